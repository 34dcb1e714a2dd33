"""Reads for a trader's own orders and fills."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q, QuerySet

from exchange_site.errors import DomainError, NotFound
from markets.models import Market, Order, OrderList, Trade
from markets.selectors_cached import market_by_id, market_by_symbol, markets_by_id


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


def order_filter(*, market: str | None = None, status: str | None = None) -> tuple[int | None, tuple[str, ...] | None]:
    """The ``market`` and ``status`` of a list of my orders, checked: ``(market id, statuses)``, None for any.

    ``status`` is ``open``, ``closed``, ``all`` (the default) or one order status.
    """
    market_id = market_get_by_symbol(symbol=market).pk if market else None
    status = status or "all"
    if status == "all":
        return market_id, None
    if status == "open":
        return market_id, tuple(Order.OPEN_STATUSES)
    if status == "closed":
        return market_id, tuple(Order.CLOSED_STATUSES)
    if status in Order.Status.values:
        return market_id, (status,)
    raise DomainError("status must be open, closed, all or an order status.", code="validation_error")


# What a listed order is rendered from (``order_out``, its market by id), in select order.
ORDER_LIST_FIELDS = (
    "id",
    "client_order_id",
    "market_id",
    "side",
    "type",
    "time_in_force",
    "post_only",
    "self_trade_prevention",
    "price",
    "quantity",
    "quote_quantity",
    "filled_quantity",
    "filled_quote",
    "status",
    "reject_reason",
    "cancel_reason",
    "stop_price",
    "triggered_at",
    "expire_time",
    "order_list_id",
    "amended_at",
    "created_at",
    "updated_at",
)
OrderRow = namedtuple("OrderRow", ORDER_LIST_FIELDS)
_COLUMNS = {f.attname: f.column for f in Order._meta.concrete_fields}
_page_sql: dict[tuple[bool, int, bool], str] = {}


def _orders_page_statement(*, by_market: bool, statuses: int, by_cursor: bool) -> str:
    key = (by_market, statuses, by_cursor)
    sql = _page_sql.get(key)
    if sql is None:
        where = ['"user_id" = %s']
        if by_market:
            where.append('"market_id" = %s')
        if statuses:
            where.append(f'"status" IN ({", ".join(["%s"] * statuses)})')
        if by_cursor:
            where.append('"id" < %s')
        columns = ", ".join(f'"{_COLUMNS[name]}"' for name in ORDER_LIST_FIELDS)
        sql = _page_sql[key] = (
            f'SELECT {columns} FROM "{Order._meta.db_table}" WHERE {" AND ".join(where)} ORDER BY "id" DESC LIMIT %s'
        )
    return sql


def orders_page(
    *,
    user_id: int,
    market_id: int | None,
    statuses: tuple[str, ...] | None,
    before: int | None,
    limit: int,
) -> list[OrderRow]:
    """Up to ``limit`` of the user's orders (``order_filter``'s filters), newest first, ids below ``before``.

    On PostgreSQL one prepared-once statement and plain rows: building the query through
    the ORM cost more than running it. SQLite reads through the ORM (its driver hands
    over floats where the ORM's converters give decimals).
    """
    if connection.vendor == "postgresql":
        sql = _orders_page_statement(
            by_market=market_id is not None, statuses=len(statuses or ()), by_cursor=before is not None
        )
        params: list[object] = [user_id]
        if market_id is not None:
            params.append(market_id)
        params.extend(statuses or ())
        if before is not None:
            params.append(before)
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(map(OrderRow._make, cursor.fetchall()))
    qs = Order.objects.filter(user_id=user_id)
    if market_id is not None:
        qs = qs.filter(market_id=market_id)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if before is not None:
        qs = qs.filter(id__lt=before)
    return list(map(OrderRow._make, qs.order_by("-id").values_list(*ORDER_LIST_FIELDS)[:limit]))


def market_symbols(market_ids: Iterable[int]) -> dict[int, str]:
    """The symbols of these markets by id, from the process cache of markets (no read at all for none)."""
    wanted = set(market_ids)
    if not wanted:
        return {}
    markets = markets_by_id()
    return {pk: (markets.get(pk) or market_get_by_id(market_id=pk)).symbol for pk in wanted}


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
