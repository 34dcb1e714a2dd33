"""OCO order lists: a limit leg and a stop leg sharing ONE lock.

At most one leg ever trades (the engine guarantees it), so the pair locks the larger
of the two legs' needs, not the sum. The lock is carried by the limit leg's
``locked_amount`` (the stop leg's is 0) and moves to the stop leg when the matcher
triggers it and takes the limit leg away; settlement then releases whatever the leg
that closes last did not use, through the usual order release.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.freezes import ensure_trading_not_frozen
from exchange_site import events
from exchange_site.errors import Conflict, DomainError, NotFound
from exchange_site.events import OrderPlaced, OrdersChanged
from exchange_site.money import fmt, q
from markets.models import Market, Order, OrderList
from wallets.models import LedgerEntry
from wallets.services import BalanceChange, InsufficientFunds, wallet_apply_changes, wallets_lock

from .services import OrderRejected, OrderRequest, _validate


@dataclass(frozen=True, slots=True)
class OcoRequest:
    """An OCO pair as the client asked for it: the limit leg at ``price``, the stop leg at ``stop_price``.

    ``stop_limit_price`` None makes the stop leg a stop-market order.
    """

    side: str
    quantity: Decimal
    price: Decimal
    stop_price: Decimal
    stop_limit_price: Decimal | None = None
    client_order_id: str | None = None

    def legs(self) -> tuple[OrderRequest, OrderRequest]:
        limit = OrderRequest(side=self.side, type=Order.Type.LIMIT, price=self.price, quantity=self.quantity)
        stop = OrderRequest(
            side=self.side,
            type=Order.Type.STOP_MARKET if self.stop_limit_price is None else Order.Type.STOP_LIMIT,
            price=self.stop_limit_price,
            quantity=self.quantity,
            stop_price=self.stop_price,
        )
        return limit, stop


def order_list_place_oco(user_id: int, market: Market, request: OcoRequest) -> OrderList:
    """Validate both legs, lock the larger need once, and queue the pair for the matcher.

    The same ``client_order_id`` with the same pair returns the existing list.
    """
    limit, stop = request.legs()
    try:
        ensure_trading_not_frozen(user_ids=(user_id,))
        _validate(market=market, request=limit)
        _validate(market=market, request=stop)
        with transaction.atomic(durable=True):
            order_list = _lock_and_insert(user_id=user_id, market=market, request=request, legs=(limit, stop))
    except (IntegrityError, DomainError):
        existing = (
            OrderList.objects.filter(user_id=user_id, client_order_id=request.client_order_id).first()
            if request.client_order_id
            else None
        )
        if existing is not None:
            return _existing_for_retry(existing, market, request)
        raise
    return order_list


def _existing_for_retry(existing: OrderList, market: Market, request: OcoRequest) -> OrderList:
    legs = list(existing.orders.order_by("id"))
    same = (
        existing.market_id == market.pk
        and len(legs) == 2
        and legs[0].side == request.side
        and legs[0].quantity == request.quantity
        and legs[0].price == request.price
        and legs[1].stop_price == request.stop_price
        and legs[1].price == request.stop_limit_price
    )
    if same:
        return existing
    raise Conflict(
        "client_order_id was already used for a different order list.",
        code="duplicate_client_order_id",
        details={"order_list_id": existing.pk},
    )


def _lock_and_insert(
    *, user_id: int, market: Market, request: OcoRequest, legs: tuple[OrderRequest, OrderRequest]
) -> OrderList:
    side = request.side
    currency_id = market.quote_id if side == Order.Side.BUY else market.base_id
    if side == Order.Side.SELL:
        amount = request.quantity
    elif request.stop_limit_price is not None:
        amount = q(max(request.price, request.stop_limit_price) * request.quantity)
    else:
        # A stop-market buy leg locks like a market buy by quantity: the whole available
        # quote is its budget (it covers the limit leg's need, or the lock fails below).
        wallet = wallets_lock(keys=[(user_id, currency_id)])[(user_id, currency_id)]
        amount = max(wallet.balance - wallet.locked, q(request.price * request.quantity))
        if amount <= 0:
            raise InsufficientFunds(details={"currency": market.quote.code, "available": fmt(amount)})
    order_list = OrderList.objects.create(
        market_id=market.pk, user_id=user_id, kind=OrderList.Kind.OCO, client_order_id=request.client_order_id or None
    )
    orders = [
        Order.objects.create(
            user_id=user_id,
            market_id=market.pk,
            order_list=order_list,
            locked_amount=amount if leg.type == Order.Type.LIMIT else Decimal(0),
            **leg.order_fields(),
        )
        for leg in legs
    ]
    wallet_apply_changes(
        changes=[
            BalanceChange(
                user_id=user_id,
                currency_id=currency_id,
                kind=LedgerEntry.Kind.ORDER_LOCK,
                locked=amount,
                reference=f"order:{orders[0].pk}",
            )
        ]
    )
    for order in orders:
        events.announce_on_commit(OrderPlaced(order=order))
    return order_list


def order_list_cancel(user_id: int, list_id: int) -> OrderList:
    """Request the cancel of both legs; the matcher takes them off in sequence."""
    if not 0 < list_id < 2**63:
        raise NotFound("Order list not found.")
    with transaction.atomic(durable=True):
        order_list = OrderList.objects.select_for_update().filter(pk=list_id, user_id=user_id).first()
        if order_list is None:
            raise NotFound("Order list not found.")
        open_legs = Order.objects.filter(order_list=order_list, status__in=Order.OPEN_STATUSES)
        if order_list.status == OrderList.Status.DONE or not open_legs.exists():
            raise Conflict("The order list is done and can no longer be canceled.", code="order_not_cancelable")
        if open_legs.filter(cancel_requested_at__isnull=True).update(cancel_requested_at=timezone.now()):
            events.announce_on_commit(OrdersChanged(market_id=order_list.market_id))
    return order_list


def order_list_get(user_id: int, list_id: int) -> OrderList:
    """One of the user's order lists (another user's is not found)."""
    if not 0 < list_id < 2**63:
        raise NotFound("Order list not found.")
    order_list = OrderList.objects.select_related("market").filter(pk=list_id, user_id=user_id).first()
    if order_list is None:
        raise NotFound("Order list not found.")
    return order_list


__all__ = ["OcoRequest", "OrderRejected", "order_list_cancel", "order_list_get", "order_list_place_oco"]
