"""Translate Binance's order parameters into the arguments of the project's order service,
and wait (boundedly) for the matcher's committed result when the client asks for it."""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from markets.models import Market, Order
from trading.services import OrderRequest
from wallets.models import SettlementCursor

from .errors import BinanceError, mandatory, not_required
from .params import Params
from .render import STP_IN

CLIENT_ORDER_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
_ALPHABET = string.ascii_letters + string.digits
# Parameters of order kinds this exchange does not have: refused, never silently ignored.
_UNSUPPORTED = ("trailingDelta", "icebergQty", "pegPriceType", "pegOffsetValue", "pegOffsetType")


@dataclass(frozen=True)
class Placement:
    """One placement as the trading service takes it, plus how the client wants the answer."""

    market: Market
    order: OrderRequest
    response_type: str = "FULL"


def client_order_id_param(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not CLIENT_ORDER_ID.fullmatch(value):
        raise BinanceError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'."
        )
    return value


def generated_client_order_id() -> str:
    return "x-" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


# Binance order type -> ours. TAKE_PROFIT(_LIMIT) triggers in the other direction (a buy as
# the price falls), which the engine's stops do not do: refused as a type the symbol lacks.
_TYPES = {
    "LIMIT": Order.Type.LIMIT,
    "LIMIT_MAKER": Order.Type.LIMIT,
    "MARKET": Order.Type.MARKET,
    "STOP_LOSS": Order.Type.STOP_MARKET,
    "STOP_LOSS_LIMIT": Order.Type.STOP_LIMIT,
}
_NOT_OFFERED = {
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
_WITH_PRICE = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")
_STOPS = ("STOP_LOSS", "STOP_LOSS_LIMIT")


def order_kind(params: Params) -> str:
    """The ``type`` parameter, refused with Binance's codes when this exchange does not have it."""
    kind = params.require("type")
    if kind in _NOT_OFFERED:
        raise BinanceError(-2010, _NOT_OFFERED[kind])
    if kind not in _TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    return kind


def side_param(params: Params, name: str = "side") -> str:
    side = params.require(name)
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    return side


def _priced_rules(kind: str, tif: str | None, price, quantity, quote_quantity) -> None:
    if kind != "LIMIT_MAKER" and tif is None:
        raise mandatory("timeInForce")
    if kind == "LIMIT_MAKER" and tif is not None:
        raise not_required("timeInForce")
    if quantity is None:
        raise mandatory("quantity")
    if price is None:
        raise mandatory("price")
    if quote_quantity is not None:
        raise not_required("quoteOrderQty")


def _market_rules(kind: str, side: str, tif: str | None, price, quantity, quote_quantity) -> None:
    if tif is not None:
        raise not_required("timeInForce")
    if price is not None:
        raise not_required("price")
    if kind == "STOP_LOSS":
        if quote_quantity is not None:
            raise not_required("quoteOrderQty")
        if quantity is None:
            raise mandatory("quantity")
    if quantity is None and quote_quantity is None:
        raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
    if quantity is not None and quote_quantity is not None:
        raise not_required("quoteOrderQty")
    if side == "SELL" and quote_quantity is not None:
        raise BinanceError(-1013, "Quote order qty market sell orders are not supported; send quantity.")


def stp_param(params: Params) -> str:
    stp = params.get("selfTradePreventionMode") or "EXPIRE_TAKER"
    if stp not in STP_IN:
        raise BinanceError(-1013, "This symbol does not allow the specified self-trade prevention mode.")
    return STP_IN[stp]


def order_request(params: Params, market: Market) -> Placement:
    """Binance's ``POST /api/v3/order`` parameters as ``order_place`` arguments (or Binance's refusal)."""
    side = side_param(params)
    kind = order_kind(params)
    for name in _UNSUPPORTED:
        if params.has(name):
            raise not_required(name)
    tif = params.choice("timeInForce", ("GTC", "IOC", "FOK"), code=-1115, msg="Invalid timeInForce.")
    price, quantity, quote_quantity = (
        params.decimal("price"),
        params.decimal("quantity"),
        params.decimal("quoteOrderQty"),
    )
    stop_price = params.decimal("stopPrice")
    if kind in _STOPS and stop_price is None:
        raise mandatory("stopPrice")
    if kind not in _STOPS and stop_price is not None:
        raise not_required("stopPrice")
    if kind in _WITH_PRICE:
        _priced_rules(kind, tif, price, quantity, quote_quantity)
    else:
        _market_rules(kind, side, tif, price, quantity, quote_quantity)
    post_only = kind == "LIMIT_MAKER"
    default_response = "FULL" if kind in ("LIMIT", "MARKET") else "ACK"
    response_type = params.choice("newOrderRespType", ("ACK", "RESULT", "FULL")) or default_response
    return Placement(
        market=market,
        order=OrderRequest(
            side=side.lower(),
            type=_TYPES[kind],
            price=price,
            quantity=quantity,
            quote_quantity=quote_quantity,
            time_in_force=tif or "GTC",
            post_only=post_only,
            client_order_id=client_order_id_param(params, "newClientOrderId") or generated_client_order_id(),
            self_trade_prevention=stp_param(params),
            stop_price=stop_price,
        ),
        response_type=response_type,
    )


def _settled(order: Order) -> bool:
    """Whether settlement has applied what the matcher did with the order (its fills, its release)."""
    sequence = order.closed_sequence or order.sequence
    if sequence is None:
        return False
    settled = SettlementCursor.objects.filter(market_id=order.market_id).values_list("settled_sequence", flat=True)
    return (settled.first() or 0) >= sequence


def order_wait(*, order_id: int, until_closed: bool) -> Order:
    """The order once the matcher has taken it (or, ``until_closed``, closed it) and settlement has
    applied that, within the bounded wait: a client that reads its balance next sees the result,
    as on Binance. Answers what is committed: after the deadline, the order as it stands.
    """
    deadline = time.monotonic() + settings.BINANCE_ORDER_WAIT_SECONDS
    pause = 0.01
    while True:
        order = Order.objects.get(pk=order_id)
        done = order.status not in Order.OPEN_STATUSES if until_closed else order.status != Order.Status.NEW
        if (done and _settled(order)) or time.monotonic() + pause > deadline:
            return order
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def zero_if_none(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)
