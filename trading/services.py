"""Trading use cases: place and cancel orders.

Placing locks exactly the funds the order can need, in one transaction with the order
row and its ledger entry; the matcher picks the order up after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.freezes import ensure_trading_not_frozen
from exchange_site import events
from exchange_site.db import ids_reserve, rows_insert
from exchange_site.errors import Conflict, DomainError, NotFound
from exchange_site.events import OrderPlaced, OrdersChanged
from exchange_site.money import PrecisionError, fmt, q, to_steps
from markets.models import Market, Order, Trade
from wallets.models import LedgerEntry
from wallets.services import (
    BalanceChange,
    InsufficientFunds,
    wallet_apply_changes,
    wallet_apply_changes_bulk,
    wallets_lock,
)

from . import fastpath

ZERO = Decimal(0)


class OrderRejected(DomainError):
    """The order breaks a market filter; ``code`` says which."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as the client asked for it, its fields already parsed (the view's validation).

    The market's own filters (tick, lot, minimums, halts) are checked by ``order_place``.
    """

    side: str
    type: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    time_in_force: str = Order.TimeInForce.GTC
    post_only: bool = False
    client_order_id: str | None = None
    self_trade_prevention: str = Order.SelfTradePrevention.CANCEL_TAKER
    # Stop orders: wait until the last trade price crosses stop_price; a stop that would
    # trigger on arrival is refused unless trigger_immediately.
    stop_price: Decimal | None = None
    trigger_immediately: bool = False
    # time_in_force GTD: the matcher expires the order at this time.
    expire_time: datetime | None = None

    def order_fields(self) -> dict[str, object]:
        """The order row's fields this request sets (all but owner, market and lock)."""
        return {
            "side": self.side,
            "type": self.type,
            "price": self.price,
            "quantity": self.quantity,
            "quote_quantity": self.quote_quantity,
            "time_in_force": self.time_in_force,
            "post_only": self.post_only,
            "self_trade_prevention": self.self_trade_prevention,
            "stop_price": self.stop_price,
            "trigger_immediately": self.trigger_immediately,
            "expire_time": self.expire_time,
        }


def order_check(*, market: Market, order: OrderRequest) -> None:
    """Refuse ``order`` as placement would (market filters, halts) without placing it: Binance's order/test."""
    _validate(market=market, request=order)


LIMIT_TYPES = (Order.Type.LIMIT, Order.Type.STOP_LIMIT)
STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)


def _validate(*, market: Market, request: OrderRequest) -> None:
    side, type, price, quantity = request.side, request.type, request.price, request.quantity
    quote_quantity, time_in_force, post_only = request.quote_quantity, request.time_in_force, request.post_only
    if market.status != Market.Status.OPEN:
        raise OrderRejected(f"Market {market.symbol} is halted.", code="market_halted")
    _validate_stop_and_expiry(market=market, request=request)
    if type in LIMIT_TYPES:
        if price is None or quantity is None:
            raise OrderRejected("A limit order needs price and quantity.", code="validation_error")
        if quote_quantity is not None:
            raise OrderRejected("quote_quantity is only for market buy orders.", code="validation_error")
    else:
        if price is not None:
            raise OrderRejected("A market order takes no price.", code="validation_error")
        if post_only:
            raise OrderRejected("A market order cannot be post-only.", code="validation_error")
        if side == Order.Side.SELL and (quantity is None or quote_quantity is not None):
            raise OrderRejected("A market sell needs quantity (and no quote_quantity).", code="validation_error")
        if side == Order.Side.BUY and (quantity is None) == (quote_quantity is None):
            raise OrderRejected(
                "A market buy needs exactly one of quantity or quote_quantity.", code="validation_error"
            )
    if post_only and time_in_force not in (Order.TimeInForce.GTC, Order.TimeInForce.GTD):
        raise OrderRejected("post_only works only with time_in_force GTC or GTD.", code="validation_error")
    if price is not None:
        _check_price(market, price, "price")
    if quantity is not None:
        if quantity <= 0:
            raise OrderRejected("quantity must be greater than zero.", code="invalid_quantity")
        try:
            to_steps(quantity, market.lot_size)
        except PrecisionError as exc:
            raise OrderRejected(
                f"quantity must be a multiple of the lot size {market.lot_size.normalize():f}.",
                code="invalid_quantity",
                details={"lot_size": fmt(market.lot_size)},
            ) from exc
        if quantity < market.min_qty:
            raise OrderRejected(
                f"quantity must be at least {market.min_qty.normalize():f}.",
                code="invalid_quantity",
                details={"min_qty": fmt(market.min_qty)},
            )
    if quote_quantity is not None and quote_quantity <= 0:
        raise OrderRejected("quote_quantity must be greater than zero.", code="invalid_quantity")
    notional = price * quantity if price is not None and quantity is not None else quote_quantity
    if notional is not None and notional >= settings.MONEY_LIMIT:
        # What a limit buy locks is stored in numeric(36, 18): refuse it here, not with a 500 on insert.
        raise OrderRejected(
            f"order value (price x quantity) must be below {settings.MONEY_LIMIT:f} {market.quote.code}.",
            code="invalid_quantity",
            details={"max_notional": fmt(settings.MONEY_LIMIT)},
        )
    if notional is not None and notional < market.min_notional:
        raise OrderRejected(
            f"order value must be at least {market.min_notional.normalize():f} {market.quote.code}.",
            code="min_notional",
            details={"min_notional": fmt(market.min_notional)},
        )


def _check_price(market: Market, price: Decimal, name: str) -> None:
    field = {} if name == "price" else {"field": name}
    if price <= 0:
        raise OrderRejected(f"{name} must be greater than zero.", code="invalid_price", details=field)
    try:
        to_steps(price, market.tick_size)
    except PrecisionError as exc:
        raise OrderRejected(
            f"{name} must be a multiple of the tick size {market.tick_size.normalize():f}.",
            code="invalid_price",
            details={"tick_size": fmt(market.tick_size), **field},
        ) from exc
    if price >= settings.MONEY_LIMIT:
        raise OrderRejected(f"{name} is too large.", code="invalid_price", details=field)


def _validate_stop_and_expiry(*, market: Market, request: OrderRequest) -> None:
    """The rules of stop_price, trigger_immediately, GTD and expire_time."""
    type, stop_price, tif = request.type, request.stop_price, request.time_in_force
    if type in STOP_TYPES:
        if stop_price is None:
            raise OrderRejected(
                "A stop order needs stop_price.", code="validation_error", details={"field": "stop_price"}
            )
        _check_price(market, stop_price, "stop_price")
        if request.post_only:
            raise OrderRejected("A stop order cannot be post-only.", code="validation_error")
        if not request.trigger_immediately and _would_trigger(market, request.side, stop_price):
            raise OrderRejected(
                "The stop would trigger at once (the last price is already past stop_price).",
                code="stop_would_trigger",
                details={"stop_price": fmt(stop_price)},
            )
    elif stop_price is not None:
        raise OrderRejected("stop_price is only for stop orders.", code="validation_error")
    if tif == Order.TimeInForce.GTD:
        if type == Order.Type.MARKET:
            raise OrderRejected("A market order cannot be GTD.", code="validation_error")
        if request.expire_time is None:
            raise OrderRejected("GTD needs expire_time.", code="validation_error", details={"field": "expire_time"})
        if request.expire_time <= timezone.now():
            raise OrderRejected(
                "expire_time must be in the future.", code="validation_error", details={"field": "expire_time"}
            )
    elif request.expire_time is not None:
        raise OrderRejected("expire_time is only for time_in_force GTD.", code="validation_error")
    if tif == Order.TimeInForce.FOK and type == Order.Type.STOP_MARKET:
        raise OrderRejected("A stop-market order cannot be FOK.", code="validation_error")


def last_trade_price(market_id: int) -> Decimal | None:
    """The market's last trade price as committed (the matcher's trigger price)."""
    return (
        Trade.objects.filter(market_id=market_id).order_by("-sequence", "-id").values_list("price", flat=True).first()
    )


def _would_trigger(market: Market, side: str, stop_price: Decimal) -> bool:
    last = last_trade_price(market.pk)
    if last is None:
        return False
    return last >= stop_price if side == Order.Side.BUY else last <= stop_price


def order_place(
    *, user_id: int, market: Market, order: OrderRequest, current_user: Any | None = None
) -> tuple[Order, bool]:
    """Validate, lock the funds the order can need, and queue it for the matcher.

    Returns ``(order, created)``; the same ``client_order_id`` with the same request
    returns the existing order, a different request is a conflict.
    """
    if order.type == Order.Type.MARKET and order.time_in_force != Order.TimeInForce.GTD:
        order = replace(order, time_in_force=Order.TimeInForce.IOC)
    client_order_id = order.client_order_id or None
    # A retry (same client_order_id) gets the order it placed, whatever changed since (a
    # halt, spent funds): looked up only when the insert clashes or the order is refused,
    # so a first placement pays no query for it.
    try:
        ensure_trading_not_frozen(user_ids=(user_id,), current=current_user)
        _validate(market=market, request=order)
        # issue 10: one statement on PostgreSQL (trading/fastpath.py); None: the general path.
        placed = fastpath.order_insert_locked(user_id=user_id, market=market, request=order)
        if placed is None:
            with transaction.atomic(durable=True):
                placed = _lock_and_insert(user_id=user_id, market=market, request=order)
                # The owner's `new` frame is queued ahead of the matcher's wake-up (subscriber stages).
                events.announce_on_commit(OrderPlaced(order=placed))
    except (IntegrityError, DomainError):
        # Two requests with one client_order_id raced (the other one won), or a retry.
        existing = (
            Order.objects.filter(user_id=user_id, client_order_id=client_order_id).first() if client_order_id else None
        )
        if existing is not None:
            return _existing_for_retry(existing, market, order)
        raise
    return placed, True


def _existing_for_retry(existing: Order, market: Market, request: OrderRequest) -> tuple[Order, bool]:
    fields = {"market_id": market.pk, **request.order_fields()}
    if all(getattr(existing, name) == value for name, value in fields.items()):
        return existing, False
    raise Conflict(
        "client_order_id was already used for a different order.",
        code="duplicate_client_order_id",
        details={"order_id": existing.pk},
    )


def _lock_and_insert(*, user_id: int, market: Market, request: OrderRequest) -> Order:
    side, type = request.side, request.type
    price, quantity, quote_quantity = request.price, request.quantity, request.quote_quantity
    currency_id = market.quote_id if side == Order.Side.BUY else market.base_id
    # A stop locks exactly what the order it becomes locks.
    if side == Order.Side.SELL:
        amount = quantity
    elif type in LIMIT_TYPES:
        amount = q(price * quantity)
    elif quote_quantity is not None:
        amount = quote_quantity
    else:
        # Market buy by quantity: the whole available quote is the budget the engine
        # never exceeds; what it does not spend is released when the order closes.
        wallet = wallets_lock(keys=[(user_id, currency_id)])[(user_id, currency_id)]
        amount = wallet.balance - wallet.locked
        if amount <= 0:
            raise InsufficientFunds(details={"currency": market.quote.code, "available": fmt(amount)})
    order = Order.objects.create(
        user_id=user_id,
        market_id=market.pk,
        client_order_id=request.client_order_id or None,
        locked_amount=amount,
        **request.order_fields(),
    )
    wallet_apply_changes(
        changes=[
            BalanceChange(
                user_id=user_id,
                currency_id=currency_id,
                kind=LedgerEntry.Kind.ORDER_LOCK,
                locked=amount,
                reference=f"order:{order.pk}",
            )
        ]
    )
    return order


def order_cancel(*, user_id: int, order_id: int) -> Order:
    """Record a cancel request; the matcher takes the order off the book in sequence."""
    if not 0 < order_id < 2**63:
        raise NotFound("Order not found.")
    # issue 10: one UPDATE ... RETURNING for an open order (trading/fastpath.py); None: the general path.
    requested = fastpath.order_cancel_request(user_id=user_id, order_id=order_id)
    if requested is not None:
        return requested
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().filter(pk=order_id, user_id=user_id).first()
        if order is None:
            raise NotFound("Order not found.")
        if order.status not in Order.OPEN_STATUSES:
            raise Conflict(f"Order is {order.status} and can no longer be canceled.", code="order_not_cancelable")
        if order.cancel_requested_at is None:
            order.cancel_requested_at = timezone.now()
            Order.objects.filter(pk=order.pk).update(cancel_requested_at=order.cancel_requested_at)
            events.announce_on_commit(OrdersChanged(market_id=order.market_id))
    return order


def orders_cancel_all(*, user_id: int, market: Market) -> int:
    """Request cancellation of every open order of the user in one market."""
    with transaction.atomic(durable=True):
        count = Order.objects.filter(
            user_id=user_id, market=market, status__in=Order.OPEN_STATUSES, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=timezone.now())
        if count:
            events.announce_on_commit(OrdersChanged(market_id=market.pk))
    return count


def orders_place_bulk(*, market: Market, orders: Sequence[tuple[int, str, Decimal, Decimal]]) -> list[int]:
    """Place many limit GTC orders ``(user_id, side, price, quantity)`` in one transaction.

    For seeding a backlog (``bench_pipeline``): each order is validated like
    ``order_place`` and its funds are locked through the wallet service with its own
    ledger entry (``order_lock``, ``order:<id>``), so audits balance exactly; only the
    per-order round trips are gone. All or nothing: one short wallet fails the lot.
    Returns the new order ids in the given order.
    """
    now = timezone.now()
    objs = []
    ensure_trading_not_frozen(user_ids={row[0] for row in orders})
    for user_id, side, price, quantity in orders:
        _validate(market=market, request=OrderRequest(side=side, type=Order.Type.LIMIT, price=price, quantity=quantity))
        amount = quantity if side == Order.Side.SELL else q(price * quantity)
        objs.append(
            Order(
                market_id=market.pk,
                user_id=user_id,
                side=side,
                type=Order.Type.LIMIT,
                price=price,
                quantity=quantity,
                locked_amount=amount,
                created_at=now,
                updated_at=now,
            )
        )
    with transaction.atomic(durable=True):
        # One COPY (ids from the sequence first): ``bulk_create`` of thousands of rows
        # spends its time compiling and re-parsing one enormous INSERT.
        for obj, order_id in zip(objs, ids_reserve(Order, len(objs)), strict=True):
            obj.id = order_id
        columns = [f.attname for f in Order._meta.concrete_fields]
        rows_insert(Order, columns, [tuple(getattr(o, a) for a in columns) for o in objs])
        wallet_apply_changes_bulk(
            changes=[
                (
                    o.user_id,
                    market.quote_id if o.side == Order.Side.BUY else market.base_id,
                    LedgerEntry.Kind.ORDER_LOCK,
                    ZERO,
                    o.locked_amount,
                    f"order:{o.pk}",
                )
                for o in objs
            ]
        )
        events.announce_on_commit(OrdersChanged(market_id=market.pk))
    return [o.pk for o in objs]


# The order-type services live in their own modules; importable from here too.
_ELSEWHERE = {
    "OcoRequest": "order_lists",
    "order_list_place_oco": "order_lists",
    "order_list_cancel": "order_lists",
    "order_list_get": "order_lists",
    "order_amend": "amend",
}


def __getattr__(name: str) -> object:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"trading.{module}"), name)
