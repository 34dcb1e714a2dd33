"""Binance's OCO parameters as the project's ``OcoRequest``, and order lists in Binance's shape.

An OCO here is a limit leg and a stop-loss leg (``STOP_LOSS`` or ``STOP_LOSS_LIMIT``) on the
same side and quantity: a sell with the limit above the stop, a buy with the limit below.
Binance's take-profit legs trigger in the other direction, which the engine's stops do not
do; they are refused as an order type the OCO does not support (-1158).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markets.models import Market, Order, OrderList
from trading.services import OcoRequest

from .errors import BinanceError, mandatory, not_required
from .orders import client_order_id_param, generated_client_order_id, side_param, stp_param
from .params import Params
from .render import ms, order_result, symbol_of

_LEG_TYPES = ("LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT")
_NOT_IN_OCO = ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
# Leg parameters of what this exchange does not have: refused, never silently ignored.
_LEG_UNSUPPORTED = ("ClientOrderId", "IcebergQty", "TrailingDelta", "StrategyId", "StrategyType")
_LEG_UNSUPPORTED += ("PegPriceType", "PegOffsetType", "PegOffsetValue")
_OLD_UNSUPPORTED = ("limitClientOrderId", "stopClientOrderId", "limitIcebergQty", "stopIcebergQty", "trailingDelta")
_OLD_UNSUPPORTED += ("limitStrategyId", "limitStrategyType", "stopStrategyId", "stopStrategyType")
BAD_PRICES = "The relationship of the prices for the orders is not correct."


@dataclass(frozen=True)
class OcoPlacement:
    market: Market
    request: OcoRequest
    response_type: str


@dataclass(frozen=True)
class _Leg:
    kind: str
    price: Decimal | None
    stop_price: Decimal | None


def _leg(params: Params, prefix: str) -> _Leg:
    kind = params.require(f"{prefix}Type")
    if kind in _NOT_IN_OCO:
        raise BinanceError(-1158, "Order type not supported in OCO.")
    if kind not in _LEG_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    for suffix in _LEG_UNSUPPORTED:
        if params.has(prefix + suffix):
            raise not_required(prefix + suffix)
    price, stop_price = params.decimal(f"{prefix}Price"), params.decimal(f"{prefix}StopPrice")
    tif = params.choice(f"{prefix}TimeInForce", ("GTC", "IOC", "FOK"), code=-1115, msg="Invalid timeInForce.")
    if kind == "LIMIT_MAKER":
        for name, value in ((f"{prefix}StopPrice", stop_price), (f"{prefix}TimeInForce", tif)):
            if value is not None:
                raise not_required(name)
        if price is None:
            raise mandatory(f"{prefix}Price")
        return _Leg(kind, price, None)
    if stop_price is None:
        raise mandatory(f"{prefix}StopPrice")
    if kind == "STOP_LOSS":
        for name, value in ((f"{prefix}Price", price), (f"{prefix}TimeInForce", tif)):
            if value is not None:
                raise not_required(name)
        return _Leg(kind, None, stop_price)
    if price is None:
        raise mandatory(f"{prefix}Price")
    if tif is None:
        raise mandatory(f"{prefix}TimeInForce")
    _stop_limit_tif(tif)
    return _Leg(kind, price, stop_price)


def _stop_limit_tif(tif: str) -> None:
    # The stop-limit leg rests once triggered, like the pair it belongs to.
    if tif != "GTC":
        raise BinanceError(-2010, "Unsupported order combination")


def _placement(params: Params, market: Market, **legs: Any) -> OcoPlacement:
    side = legs.pop("side")
    price, stop_price = legs["price"], legs["stop_price"]
    if (side == "SELL" and price <= stop_price) or (side == "BUY" and price >= stop_price):
        raise BinanceError(-2010, BAD_PRICES)
    stp = stp_param(params)
    if stp != Order.SelfTradePrevention.CANCEL_TAKER:
        raise BinanceError(-1013, "This symbol does not allow the specified self-trade prevention mode.")
    response_type = params.choice("newOrderRespType", ("ACK", "RESULT", "FULL")) or "FULL"
    client_id = client_order_id_param(params, "listClientOrderId") or generated_client_order_id()
    return OcoPlacement(
        market=market,
        request=OcoRequest(
            side=side.lower(),
            quantity=legs["quantity"],
            price=price,
            stop_price=stop_price,
            stop_limit_price=legs["stop_limit_price"],
            client_order_id=client_id,
        ),
        response_type=response_type,
    )


def oco_request(params: Params, market: Market) -> OcoPlacement:
    """``POST /api/v3/orderList/oco``: an above and a below leg, one of them LIMIT_MAKER."""
    side = side_param(params)
    quantity = params.decimal("quantity")
    if quantity is None:
        raise mandatory("quantity")
    above, below = _leg(params, "above"), _leg(params, "below")
    if above.kind == below.kind == "LIMIT_MAKER":
        raise BinanceError(-1168, "At least one OCO order must be contingent.")
    if "LIMIT_MAKER" not in (above.kind, below.kind):
        raise BinanceError(-1158, "Order type not supported in OCO.")
    limit, stop = (above, below) if above.kind == "LIMIT_MAKER" else (below, above)
    if side == "SELL" and limit is below:
        raise BinanceError(-1166, "A limit order in a sell OCO must be above.")
    if side == "BUY" and limit is above:
        raise BinanceError(-1165, "A limit order in a buy OCO must be below.")
    return _placement(
        params,
        market,
        side=side,
        quantity=quantity,
        price=limit.price,
        stop_price=stop.stop_price,
        stop_limit_price=stop.price,
    )


def oco_request_deprecated(params: Params, market: Market) -> OcoPlacement:
    """``POST /api/v3/order/oco``: ``price`` (limit leg), ``stopPrice`` and an optional ``stopLimitPrice``."""
    side = side_param(params)
    for name in _OLD_UNSUPPORTED:
        if params.has(name):
            raise not_required(name)
    quantity, price, stop_price = params.decimal("quantity"), params.decimal("price"), params.decimal("stopPrice")
    for name, value in (("quantity", quantity), ("price", price), ("stopPrice", stop_price)):
        if value is None:
            raise mandatory(name)
    stop_limit_price = params.decimal("stopLimitPrice")
    tif = params.choice("stopLimitTimeInForce", ("GTC", "IOC", "FOK"), code=-1115, msg="Invalid timeInForce.")
    if stop_limit_price is not None and tif is None:
        raise mandatory("stopLimitTimeInForce")
    if stop_limit_price is None and tif is not None:
        raise not_required("stopLimitTimeInForce")
    if tif is not None:
        _stop_limit_tif(tif)
    return _placement(
        params,
        market,
        side=side,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        stop_limit_price=stop_limit_price,
    )


def list_client_order_id(order_list: OrderList) -> str:
    return order_list.client_order_id or f"list-{order_list.pk}"


def list_status(order_list: OrderList) -> tuple[str, str]:
    """(listStatusType, listOrderStatus)."""
    if order_list.status == OrderList.Status.ACTIVE:
        return "EXEC_STARTED", "EXECUTING"
    return "ALL_DONE", "ALL_DONE"


def order_list_out(order_list: OrderList, market: Market, legs: list[Order]) -> dict[str, Any]:
    """An order list as Binance's queries answer it (placements and cancels add ``orderReports``)."""
    status_type, order_status = list_status(order_list)
    symbol = symbol_of(market)
    return {
        "orderListId": order_list.pk,
        "contingencyType": "OCO",
        "listStatusType": status_type,
        "listOrderStatus": order_status,
        "listClientOrderId": list_client_order_id(order_list),
        "transactionTime": ms(order_list.updated_at),
        "symbol": symbol,
        "orders": [
            {"symbol": symbol, "orderId": o.pk, "clientOrderId": o.client_order_id or f"order-{o.pk}"} for o in legs
        ],
    }


def order_reports(legs: list[Order], market: Market) -> list[dict[str, Any]]:
    return [order_result(o, market) for o in legs]
