"""Builders of real, consistent exchange state for the wallet tests.

Deposits go through the custody deposit service. Orders, matching and settlement are
played out here with the wallet service, the way the order service, the matcher and
settlement do it (DESIGN.md), so the audit sees a state it must accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from markets.models import Currency, Market, Order, Trade
from markets.precision import q
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import Deposit, LedgerEntry, SettlementCursor
from wallets.services import BalanceChange, wallet_apply_changes

D = Decimal
CUSTODY_URL = "/api/v1/custody/deposits"


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret if secret is not None else settings.CUSTODY_WEBHOOK_SECRET).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def post_notice(client, payload=None, *, raw: bytes | None = None, signature: str | None = None, secret=None):
    """POST a custody notice signed like the custody provider (or with the given signature)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    sig = signature if signature is not None else sign(body, secret)
    extra = {"HTTP_X_CUSTODY_SIGNATURE": sig} if sig else {}
    return client.post(CUSTODY_URL, data=body, content_type="application/json", **extra)


def deposit(user, currency: Currency, amount, txid: str | None = None) -> Deposit:
    """A confirmed custody deposit, credited through the service."""
    address = deposit_address_get(user=user, currency=currency)
    return custody_deposit_notify(
        currency_code=currency.code,
        address=address.address,
        amount=D(amount),
        txid=txid or f"tx-{user.pk}-{currency.code}-{amount}-{Deposit.objects.count()}",
        confirmations=currency.min_confirmations,
    )


def _next_sequence(market: Market) -> int:
    market.refresh_from_db(fields=["last_sequence"])
    market.last_sequence += 1
    market.save(update_fields=["last_sequence"])
    return market.last_sequence


def place_limit(user, market: Market, side: str, price, quantity) -> Order:
    """Lock the reservation and admit the order to the book (what order_place + the matcher do)."""
    price, quantity = D(price), D(quantity)
    buy = side == Order.Side.BUY
    locked = q(price * quantity) if buy else quantity
    currency_id = market.quote_id if buy else market.base_id
    with transaction.atomic():
        order = Order.objects.create(
            market=market,
            user=user,
            side=side,
            type=Order.Type.LIMIT,
            price=price,
            quantity=quantity,
            locked_amount=locked,
            status=Order.Status.NEW,
        )
        wallet_apply_changes(
            changes=[
                BalanceChange(
                    user.pk, currency_id, LedgerEntry.Kind.ORDER_LOCK, locked=locked, reference=f"order:{order.pk}"
                )
            ]
        )
        order.sequence = _next_sequence(market)
        order.status = Order.Status.OPEN
        order.save(update_fields=["sequence", "status"])
    return order


def match(maker: Order, taker: Order, quantity) -> Trade:
    """One fill at the maker's price, written like a matcher batch (trade, fills, last_sequence)."""
    market = maker.market
    quantity = D(quantity)
    price = maker.price
    quote = q(price * quantity)
    with transaction.atomic():
        sequence = _next_sequence(market)
        buyer_fee_rate, seller_fee_rate = (
            (market.maker_fee, market.taker_fee)
            if maker.side == Order.Side.BUY
            else (market.taker_fee, market.maker_fee)
        )
        buyer_fee = q(quantity * buyer_fee_rate)
        seller_fee = q(quote * seller_fee_rate)
        trade = Trade.objects.create(
            market=market,
            sequence=sequence,
            maker_order=maker,
            taker_order=taker,
            maker_user=maker.user,
            taker_user=taker.user,
            taker_side=taker.side,
            price=price,
            quantity=quantity,
            quote_quantity=quote,
            maker_fee=buyer_fee if maker.side == Order.Side.BUY else seller_fee,
            taker_fee=buyer_fee if taker.side == Order.Side.BUY else seller_fee,
            created_at=timezone.now(),
        )
        for order in (maker, taker):
            order.refresh_from_db()
            order.filled_quantity += quantity
            order.filled_quote += quote
            if order.filled_quantity == order.quantity:
                order.status = Order.Status.FILLED
                order.closed_sequence = sequence
            else:
                order.status = Order.Status.PARTIALLY_FILLED
            order.save()
    return trade


def cancel(order: Order) -> None:
    """Take the order off the book in sequence, as the matcher does for a cancel request."""
    with transaction.atomic():
        order.refresh_from_db()
        order.closed_sequence = _next_sequence(order.market)
        order.status = Order.Status.CANCELED
        order.save()


def settle(market: Market, fee_user) -> None:
    """Apply, in sequence order, every trade and closure newer than the cursor (what settlement does)."""
    with transaction.atomic():
        market.refresh_from_db()
        cursor, _ = SettlementCursor.objects.select_for_update().get_or_create(market=market)
        start, end = cursor.settled_sequence, market.last_sequence
        events: list[tuple[int, int, object]] = [
            (t.sequence, 0, t) for t in Trade.objects.filter(market=market, sequence__gt=start, sequence__lte=end)
        ]
        events += [
            (o.closed_sequence, 1, o)
            for o in Order.objects.filter(market=market, closed_sequence__gt=start, closed_sequence__lte=end)
        ]
        changes: list[BalanceChange] = []
        base, quote_ccy = market.base_id, market.quote_id
        for _sequence, kind, obj in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == 0:
                t = obj
                buyer, seller = (
                    (t.taker_user_id, t.maker_user_id) if t.taker_side == "buy" else (t.maker_user_id, t.taker_user_id)
                )
                buyer_fee = t.taker_fee if t.taker_side == "buy" else t.maker_fee
                seller_fee = t.maker_fee if t.taker_side == "buy" else t.taker_fee
                ref = f"trade:{t.pk}"
                changes += [
                    BalanceChange(
                        buyer, quote_ccy, "trade", amount=-t.quote_quantity, locked=-t.quote_quantity, reference=ref
                    ),
                    BalanceChange(buyer, base, "trade", amount=t.quantity, reference=ref),
                    BalanceChange(buyer, base, "trade_fee", amount=-buyer_fee, reference=ref),
                    BalanceChange(fee_user.pk, base, "fee_income", amount=buyer_fee, reference=ref),
                    BalanceChange(seller, base, "trade", amount=-t.quantity, locked=-t.quantity, reference=ref),
                    BalanceChange(seller, quote_ccy, "trade", amount=t.quote_quantity, reference=ref),
                    BalanceChange(seller, quote_ccy, "trade_fee", amount=-seller_fee, reference=ref),
                    BalanceChange(fee_user.pk, quote_ccy, "fee_income", amount=seller_fee, reference=ref),
                ]
            else:
                o = obj
                consumed = o.filled_quote if o.side == "buy" else o.filled_quantity
                rest = o.locked_amount - consumed
                if rest:
                    changes.append(
                        BalanceChange(
                            o.user_id,
                            quote_ccy if o.side == "buy" else base,
                            "order_release",
                            locked=-rest,
                            reference=f"order:{o.pk}",
                        )
                    )
        if changes:
            wallet_apply_changes(changes=changes)
        cursor.settled_sequence = end
        cursor.save()


class checks_disabled:  # noqa: N801 - used like a function
    """Let a test write a row the database CHECK constraints would refuse (to prove the audit sees it)."""

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA ignore_check_constraints = 1")
            else:
                # Rolled back with the test's transaction.
                cursor.execute("ALTER TABLE wallets_wallet DROP CONSTRAINT wallet_locked_le_balance")
                cursor.execute("ALTER TABLE wallets_wallet DROP CONSTRAINT wallet_locked_nonnegative")
        return self

    def __exit__(self, *exc):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = 0")
        return False
