"""Reads for a trader's own orders and fills."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from exchange_site.errors import DomainError, NotFound
from markets.models import Market, Order, OrderList, Trade
from markets.selectors_cached import market_by_id, market_by_symbol


def market_get_by_symbol(*, symbol: str) -> Market:
    """The market (from the process cache of markets), or a ``validation_error``."""
    market = market_by_symbol(symbol=symbol) if isinstance(symbol, str) else None
    if market is None:
        raise DomainError(f"Unknown market {symbol!r}.", code="validation_error", details={"market": symbol})
    return market


def market_get_by_id(*, market_id: int) -> Market:
    """The market of a row already read (from the process cache of markets)."""
    market = market_by_id(market_id=market_id)
    return market if market is not None else Market.objects.select_related("base", "quote").get(pk=market_id)


def orders_for_user(*, user_id: int, market: str | None = None, status: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.filter(user_id=user_id).select_related("market")
    if market:
        qs = qs.filter(market=market_get_by_symbol(symbol=market))
    status = status or "all"
    if status == "open":
        qs = qs.filter(status__in=Order.OPEN_STATUSES)
    elif status == "closed":
        qs = qs.filter(status__in=Order.CLOSED_STATUSES)
    elif status in Order.Status.values:
        qs = qs.filter(status=status)
    elif status != "all":
        raise DomainError("status must be open, closed, all or an order status.", code="validation_error")
    return qs


def order_get_for_user(*, user_id: int, order_id: int | None = None, client_order_id: str | None = None) -> Order:
    if order_id is not None and not 0 < order_id < 2**63:
        raise NotFound("Order not found.")
    qs = Order.objects.filter(user_id=user_id).select_related("market")
    order = (
        qs.filter(pk=order_id).first() if order_id is not None else qs.filter(client_order_id=client_order_id).first()
    )
    if order is None:
        raise NotFound("Order not found.")
    return order


def fills_for_user(*, user_id: int, market: str | None = None) -> QuerySet[Trade]:
    qs = Trade.objects.filter(Q(maker_user_id=user_id) | Q(taker_user_id=user_id)).select_related(
        "market__base", "market__quote"
    )
    if market:
        qs = qs.filter(market=market_get_by_symbol(symbol=market))
    return qs


def order_list_exists(*, user_id: int, client_order_id: str) -> bool:
    """Whether the user already has an order list with this client id (a retry answers 200, not 201)."""
    return OrderList.objects.filter(user_id=user_id, client_order_id=client_order_id).exists()
