"""Placement and cancel in one round trip each, on PostgreSQL.

``order_place`` and ``order_cancel`` (``trading.services``) call these first; they answer
None when the fast form does not apply (SQLite, a market buy by quantity whose budget is
the whole available balance, a cancel that is refused or was already requested), and the
general path then runs as before, with the same checks, answers and events.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from exchange_site import events
from exchange_site.db import model_from_row
from exchange_site.events import OrderPlaced, OrdersChanged
from exchange_site.money import q
from markets.models import Market, Order
from wallets.models import LedgerEntry
from wallets.services import wallet_lock_inserting

from .serializers import OrderPlaceIn

if TYPE_CHECKING:
    from .services import OrderRequest

# Every column of an order row but its id, in model order.
_ORDER_FIELDS = [f for f in Order._meta.concrete_fields if not f.primary_key]
_ORDER_ATTNAMES = [f.attname for f in Order._meta.concrete_fields]


def order_lock_amount(*, market: Market, request: OrderRequest) -> tuple[int, object] | None:
    """``(currency_id, amount)`` the order locks, or None for a market buy by quantity (locks what is available)."""
    if request.side == Order.Side.SELL:
        return market.base_id, request.quantity
    if request.type in (Order.Type.LIMIT, Order.Type.STOP_LIMIT):
        return market.quote_id, q(request.price * request.quantity)
    if request.quote_quantity is not None:
        return market.quote_id, request.quote_quantity
    return None


def order_insert_locked(*, user_id: int, market: Market, request: OrderRequest) -> Order | None:
    """Insert the order with its funds locked and its ledger entry in one statement, or None (see the module).

    Raises ``InsufficientFunds`` or ``IntegrityError`` (a taken ``client_order_id``) with
    nothing written, as the general path does.
    """
    if connection.vendor != "postgresql":
        return None
    lock = order_lock_amount(market=market, request=request)
    if lock is None:
        return None
    currency_id, amount = lock
    now = timezone.now()
    order = Order(
        user_id=user_id,
        market_id=market.pk,
        client_order_id=request.client_order_id or None,
        locked_amount=amount,
        created_at=now,
        updated_at=now,
        **request.order_fields(),
    )
    # None is None in the database for every field here; only the others need preparing.
    row = {
        f.attname: None if (value := getattr(order, f.attname)) is None else f.get_db_prep_save(value, connection)
        for f in _ORDER_FIELDS
    }
    order.pk = wallet_lock_inserting(
        user_id=user_id,
        currency_id=currency_id,
        locked=amount,
        kind=LedgerEntry.Kind.ORDER_LOCK,
        model=Order,
        row=row,
        reference_prefix="order:",
        now=now,
    )
    order._state.adding = False
    order._state.db = "default"
    # The owner's `new` frame is queued ahead of the matcher's wake-up (subscriber stages).
    # Outside a transaction the statement has committed and this runs at once.
    events.announce_on_commit(OrderPlaced(order=order))
    return order


_cancel_sql: str | None = None


def _cancel_statement() -> str:
    global _cancel_sql
    if _cancel_sql is None:
        columns = ", ".join(f'"{f.column}"' for f in Order._meta.concrete_fields)
        statuses = ", ".join(f"'{s}'" for s in Order.OPEN_STATUSES)
        _cancel_sql = (
            f"UPDATE {Order._meta.db_table} SET cancel_requested_at = %s"
            f" WHERE id = %s AND user_id = %s AND status IN ({statuses}) AND cancel_requested_at IS NULL"
            f" RETURNING {columns}"
        )
    return _cancel_sql


def order_cancel_request(*, user_id: int, order_id: int) -> Order | None:
    """Record the cancel request of an open order not yet asked to cancel, in one statement; else None."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_cancel_statement(), [timezone.now(), order_id, user_id])
        found = cursor.fetchone()
    if found is None:
        return None
    order = model_from_row(Order, _ORDER_ATTNAMES, found)
    events.announce_on_commit(OrdersChanged(market_id=order.market_id))
    return order


# -- the order body ----------------------------------------------------------------------

_BODY_KEYS = frozenset(
    (
        "market",
        "side",
        "type",
        "price",
        "quantity",
        "quote_quantity",
        "time_in_force",
        "post_only",
        "client_order_id",
        "self_trade_prevention",
    )
)
_SYMBOL = re.compile(r"[A-Za-z0-9._-]{1,21}")
_COID = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
_SIDES = frozenset(Order.Side.values)
_TYPES = frozenset(Order.Type.values)
_TIFS = frozenset(Order.TimeInForce.values)
_STPS = frozenset(Order.SelfTradePrevention.values)
# The serializer's own money fields: its parsing and limits, not a copy of them.
_MONEY_FIELDS = {key: OrderPlaceIn._declared_fields[key] for key in ("price", "quantity", "quote_quantity")}


def _choice(data: dict, key: str, allowed: frozenset, default: str | None) -> str | None:
    value = data.get(key, default)
    return value if type(value) is str and value in allowed else None


def order_body_valid(data: object) -> dict[str, object] | None:
    """What ``OrderPlaceIn`` validates ``data`` to, for a plainly well-formed body; None for anything else.

    DRF's serializer costs about a millisecond per order. This takes only bodies whose
    every field is already in its final form (known keys, strings that are exactly a
    choice, a symbol or a client order id, a real boolean, amounts the serializer's own
    money field accepts) and gives the same values; everything else, and every error,
    goes through ``OrderPlaceIn`` so the answers stay exactly the serializer's.
    """
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    market = data.get("market")
    side = _choice(data, "side", _SIDES, None)
    order_type = _choice(data, "type", _TYPES, None)
    time_in_force = _choice(data, "time_in_force", _TIFS, Order.TimeInForce.GTC.value)
    stp = _choice(data, "self_trade_prevention", _STPS, Order.SelfTradePrevention.CANCEL_TAKER.value)
    post_only = data.get("post_only", False)
    client_order_id = data.get("client_order_id")
    if (
        type(market) is not str
        or not _SYMBOL.fullmatch(market)
        or side is None
        or order_type is None
        or time_in_force is None
        or stp is None
        or type(post_only) is not bool
        or not (client_order_id is None or (type(client_order_id) is str and _COID.fullmatch(client_order_id)))
    ):
        return None
    valid: dict[str, object] = {
        "market": market,
        "side": side,
        "type": order_type,
        "time_in_force": time_in_force,
        "post_only": post_only,
        "client_order_id": client_order_id,
        "self_trade_prevention": stp,
        # The stop and GTD fields are never in a body taken here: their serializer defaults.
        "stop_price": None,
        "trigger_immediately": False,
        "expire_time": None,
    }
    for key in ("price", "quantity", "quote_quantity"):
        value = data.get(key)
        if value is not None:
            try:
                value = _MONEY_FIELDS[key].to_internal_value(value)
            except ValidationError:
                return None
        valid[key] = value
    return valid
