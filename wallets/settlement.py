"""Settlement: apply the matcher's committed output to balances, exactly once.

Trades and order closures newer than the market's settlement cursor are applied in
sequence order; the cursor advances in the same transaction as the balances, so a
crash at any point either applied a range completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from accounts.selectors import fee_account
from exchange_site.db import on_commit
from markets.models import Market, Order, Trade

from .models import LedgerEntry, SettlementCursor
from .services import BalanceChange, wallet_apply_changes

ZERO = Decimal(0)
MAX_SEQUENCES_PER_RUN = 2000
Kind = LedgerEntry.Kind


@dataclass
class SettlementResult:
    market_id: int
    from_sequence: int
    to_sequence: int
    trades: list[Trade] = field(default_factory=list)
    closed_orders: list[Order] = field(default_factory=list)
    wallets: list = field(default_factory=list)


# Called after each committed settlement run (the WebSocket layer registers here).
after_settlement: list[Callable[[SettlementResult], None]] = []


def _trade_changes(trade: Trade, market: Market, fee_user_id: int) -> list[BalanceChange]:
    ref = f"trade:{trade.pk}"
    if trade.taker_side == Order.Side.BUY:
        buyer, seller = trade.taker_user_id, trade.maker_user_id
        buyer_fee, seller_fee = trade.taker_fee, trade.maker_fee
    else:
        buyer, seller = trade.maker_user_id, trade.taker_user_id
        buyer_fee, seller_fee = trade.maker_fee, trade.taker_fee
    base, quote = market.base_id, market.quote_id
    changes = [
        BalanceChange(buyer, quote, Kind.TRADE, -trade.quote_quantity, -trade.quote_quantity, ref),
        BalanceChange(buyer, base, Kind.TRADE, trade.quantity, ZERO, ref),
        BalanceChange(seller, base, Kind.TRADE, -trade.quantity, -trade.quantity, ref),
        BalanceChange(seller, quote, Kind.TRADE, trade.quote_quantity, ZERO, ref),
    ]
    if buyer_fee:
        changes.append(BalanceChange(buyer, base, Kind.TRADE_FEE, -buyer_fee, ZERO, ref))
        changes.append(BalanceChange(fee_user_id, base, Kind.FEE_INCOME, buyer_fee, ZERO, ref))
    if seller_fee:
        changes.append(BalanceChange(seller, quote, Kind.TRADE_FEE, -seller_fee, ZERO, ref))
        changes.append(BalanceChange(fee_user_id, quote, Kind.FEE_INCOME, seller_fee, ZERO, ref))
    return changes


def _release_change(order: Order, market: Market) -> BalanceChange | None:
    if order.side == Order.Side.BUY:
        unused, currency = order.locked_amount - order.filled_quote, market.quote_id
    else:
        unused, currency = order.locked_amount - order.filled_quantity, market.base_id
    if unused == 0:
        return None
    return BalanceChange(order.user_id, currency, Kind.ORDER_RELEASE, ZERO, -unused, f"order:{order.pk}")


def market_settle(*, market_id: int, max_sequences: int = MAX_SEQUENCES_PER_RUN) -> SettlementResult | None:
    """Settle the next range of a market's sequences; None when already caught up."""
    with transaction.atomic(durable=True):
        SettlementCursor.objects.get_or_create(market_id=market_id)
        cursor = SettlementCursor.objects.select_for_update().get(market_id=market_id)
        market = Market.objects.get(pk=market_id)
        start = cursor.settled_sequence
        if market.last_sequence <= start:
            return None
        end = min(market.last_sequence, start + max_sequences)
        trades = list(
            Trade.objects.filter(market_id=market_id, sequence__gt=start, sequence__lte=end).order_by("sequence", "id")
        )
        closed = list(
            Order.objects.filter(market_id=market_id, closed_sequence__gt=start, closed_sequence__lte=end).order_by(
                "closed_sequence", "id"
            )
        )
        fee_user_id = fee_account().pk
        # Within one sequence, trades come before the closures they caused.
        steps: list[tuple[int, int, object]] = [(t.sequence, 0, t) for t in trades]
        steps += [(o.closed_sequence, 1, o) for o in closed]
        steps.sort(key=lambda s: (s[0], s[1], s[2].pk))
        changes: list[BalanceChange] = []
        for _, kind, item in steps:
            if kind == 0:
                changes.extend(_trade_changes(item, market, fee_user_id))
            else:
                release = _release_change(item, market)
                if release is not None:
                    changes.append(release)
        # Not announced: the settlement hook publishes these wallets right after its fills.
        wallets = wallet_apply_changes(changes=changes, announce=False) if changes else {}
        cursor.settled_sequence = end
        cursor.save(update_fields=["settled_sequence", "updated_at"])
        result = SettlementResult(market_id, start, end, trades, closed, list(wallets.values()))
        for hook in after_settlement:
            on_commit(lambda hook=hook: hook(result))
    return result


def market_settle_all(*, market_id: int) -> int:
    """Settle until caught up with the matcher; returns how many runs it took."""
    runs = 0
    while market_settle(market_id=market_id) is not None:
        runs += 1
    return runs
