"""Amend an open order: new quantity and/or price, same order id.

The matcher owns an order's price and quantity while it rests (it fills it at any
moment), so an amend is a command like a cancel: the service records it on the order
(``amend_*`` fields) and the matcher applies it in sequence, where the engine decides
whether time priority is kept. The lock follows in two steps, each in one
transaction with its ledger entry:

* with the request, the lock grows to the most the amended order can need whatever
  the matcher fills before it gets there (never shrinks: fills at the old price may
  still come);
* once the matcher applied it, what the amended remainder cannot need is released.

``order_amend`` waits (``settings.AMEND_WAIT_SECONDS``) for the matcher's answer, so
the caller gets the amended order, or 409 when the order closed first. If the matcher
does not answer in time the order comes back with the amend still pending
(``amend_requested_at`` set); the matcher applies it later and the surplus lock is
released when the order closes.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.freezes import ensure_trading_not_frozen
from exchange_site import events
from exchange_site.errors import Conflict, NotFound
from exchange_site.events import OrdersChanged
from exchange_site.money import q
from markets.models import Order, OrderList
from wallets.models import LedgerEntry
from wallets.services import BalanceChange, wallet_apply_changes

from .services import LIMIT_TYPES, OrderRejected, OrderRequest, _validate

ZERO = Decimal(0)
POLL_SECONDS = 0.02


def _not_amendable(order: Order, why: str) -> Conflict:
    return Conflict(
        f"Order is {order.status} and cannot be amended ({why}).",
        code="order_not_amendable",
        details={"status": order.status},
    )


def order_amend(user_id: int, order_id: int, quantity: Decimal | None = None, price: Decimal | None = None) -> Order:
    """Change the total quantity and/or the price of an open limit order; see the module's docstring."""
    if not 0 < order_id < 2**63:
        raise NotFound("Order not found.")
    ensure_trading_not_frozen(user_ids=(user_id,))
    requested_at = _request(user_id, order_id, quantity, price)
    deadline = time.monotonic() + settings.AMEND_WAIT_SECONDS
    order = Order.objects.get(pk=order_id)
    while order.amend_requested_at == requested_at and order.status in Order.RESTING_STATUSES:
        if time.monotonic() >= deadline:
            return order  # still pending: the matcher applies it later
        time.sleep(POLL_SECONDS)
        order = Order.objects.get(pk=order_id)
    if order.amended_at is None or order.amended_at < requested_at:
        raise _not_amendable(order, "it closed or the matcher refused the amend before applying it")
    return amend_lock_release(order_id)


def _request(user_id: int, order_id: int, quantity: Decimal | None, price: Decimal | None):
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().select_related("market").filter(pk=order_id, user_id=user_id).first()
        if order is None:
            raise NotFound("Order not found.")
        if quantity is None and price is None:
            raise OrderRejected("Give quantity, price or both.", code="validation_error")
        if order.status not in Order.RESTING_STATUSES:
            raise _not_amendable(order, "not resting in the book")
        if order.type not in LIMIT_TYPES or order.cancel_requested_at is not None:
            raise _not_amendable(order, "not a limit order, or a cancel is pending")
        if order.amend_requested_at is not None:
            raise _not_amendable(order, "another amend is pending")
        if order.order_list_id is not None and order.filled_quantity == 0 and _linked(order):
            raise _not_amendable(order, "a leg of an active OCO list")
        new_quantity = order.quantity if quantity is None else quantity
        new_price = order.price if price is None else price
        _validate(
            market=order.market,
            request=OrderRequest(side=order.side, type=Order.Type.LIMIT, price=new_price, quantity=new_quantity),
        )
        if new_quantity <= order.filled_quantity:
            raise OrderRejected(
                "quantity must be more than what is already filled.",
                code="invalid_quantity",
                details={"filled_quantity": str(order.filled_quantity)},
            )
        _lock_more(order, _worst_need(order, new_quantity, new_price))
        now = timezone.now()
        Order.objects.filter(pk=order.pk).update(
            amend_quantity=quantity, amend_price=price, amend_requested_at=now, updated_at=now
        )
        events.announce_on_commit(OrdersChanged(market_id=order.market_id))
    return now


def _linked(order: Order) -> bool:
    return OrderList.objects.filter(pk=order.order_list_id, status=OrderList.Status.ACTIVE).exists()


def _worst_need(order: Order, quantity: Decimal, price: Decimal) -> Decimal:
    """The most the order can consume, amended, whatever fills at the old price come first."""
    if order.side == Order.Side.SELL:
        return quantity
    return order.filled_quote + q(max(price, order.price) * (quantity - order.filled_quantity))


def _need(order: Order) -> Decimal:
    """What the order can still consume at its current price and quantity."""
    if order.side == Order.Side.SELL:
        return order.quantity
    return order.filled_quote + q(order.price * (order.quantity - order.filled_quantity))


def _currency(order: Order) -> int:
    return order.market.quote_id if order.side == Order.Side.BUY else order.market.base_id


def _lock_more(order: Order, need: Decimal) -> None:
    extra = need - order.locked_amount
    if extra <= 0:
        return
    wallet_apply_changes(
        changes=[
            BalanceChange(
                user_id=order.user_id,
                currency_id=_currency(order),
                kind=LedgerEntry.Kind.ORDER_LOCK,
                locked=extra,
                reference=f"order:{order.pk}",
            )
        ]
    )
    Order.objects.filter(pk=order.pk).update(locked_amount=F("locked_amount") + extra)
    order.locked_amount += extra


def amend_lock_release(order_id: int) -> Order:
    """Release what an applied amend left locked beyond the order's need (only while it rests).

    Once the order closes, settlement releases the unused lock itself: touching it then
    could release it twice.
    """
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().select_related("market").get(pk=order_id)
        if order.status in Order.RESTING_STATUSES and order.amend_requested_at is None:
            surplus = order.locked_amount - _need(order)
            if surplus > 0:
                wallet_apply_changes(
                    changes=[
                        BalanceChange(
                            user_id=order.user_id,
                            currency_id=_currency(order),
                            kind=LedgerEntry.Kind.ORDER_RELEASE,
                            locked=-surplus,
                            reference=f"order:{order.pk}",
                        )
                    ]
                )
                Order.objects.filter(pk=order.pk).update(locked_amount=F("locked_amount") - surplus)
                order.locked_amount -= surplus
    return order
