"""Signed /api/v3 endpoints for OCO order lists and amend-keep-priority, over the trading services."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from rest_framework.request import Request
from rest_framework.response import Response

from exchange_site.errors import DomainError
from markets.models import Market, Order, OrderList, Trade
from trading.selectors import market_get_by_id
from trading.services import order_amend, order_list_cancel, order_list_place_oco

from .base import KeyMayRead, KeyMayTrade, SignedView, TradeView, params_of
from .errors import BinanceError, invalid, mandatory
from .limits import orders_count
from .order_lists import oco_request, oco_request_deprecated, order_list_out, order_reports
from .orders import client_order_id_param, order_wait
from .params import Params
from .render import (
    STP_OUT,
    client_order_id,
    market_for,
    ms,
    num,
    order_fill,
    order_list_id,
    order_status,
    order_type,
    symbol_of,
    working_time,
)
from .views_trading import _ascending, _find_order, _limit, _window

MAX_LIST_WINDOW_MS = 24 * 3600 * 1000


def _legs(order_list: OrderList) -> list[Order]:
    return list(Order.objects.filter(order_list=order_list).order_by("id"))


def _wait_legs(legs: list[Order], *, until_closed: bool) -> list[Order]:
    return [order_wait(order_id=o.pk, until_closed=until_closed) for o in legs]


def _unknown_list(code: int = -2013) -> BinanceError:
    return BinanceError(code, "Order list does not exist." if code == -2013 else "Unknown order list sent.")


def _find_list(request: Request, params: Params, client_param: str, *, code: int) -> OrderList:
    list_id = params.integer("orderListId")
    client_id = client_order_id_param(params, client_param)
    if list_id is None and client_id is None:
        raise BinanceError(-1102, f"Param '{client_param}' or 'orderListId' must be sent, but both were empty/null!")
    rows = OrderList.objects.filter(user_id=request.user.pk).select_related("market__base", "market__quote")
    found = rows.filter(pk=list_id).first() if list_id is not None else rows.filter(client_order_id=client_id).first()
    if found is None or (client_id is not None and found.client_order_id != client_id):
        raise _unknown_list(code)
    return found


class _OcoPlaceView(TradeView):
    parse = staticmethod(oco_request)

    def post(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        placement = self.parse(params, market)
        headers = orders_count(key_id=request.auth.pk, orders=2)
        try:
            order_list = order_list_place_oco(user_id=request.user.pk, market=market, request=placement.request)
        except DomainError as exc:
            if exc.code == "stop_would_trigger":
                raise BinanceError(-2010, "The relationship of the prices for the orders is not correct.") from exc
            raise
        legs = _legs(order_list)
        if placement.response_type != "ACK":
            legs = _wait_legs(legs, until_closed=False)
            order_list.refresh_from_db()
        body = order_list_out(order_list, market, legs)
        body["orderReports"] = order_reports(legs, market)
        if placement.response_type == "FULL":
            for report, leg in zip(body["orderReports"], legs, strict=True):
                trades = Trade.objects.filter(Q(taker_order_id=leg.pk) | Q(maker_order_id=leg.pk)).order_by("id")
                report["fills"] = [order_fill(t, market, request.user.pk) for t in trades]
        return Response(body, headers=headers)


class OrderListOcoView(_OcoPlaceView):
    """``POST /api/v3/orderList/oco``."""


class OrderOcoView(_OcoPlaceView):
    """``POST /api/v3/order/oco`` (deprecated on Binance, still used by older clients)."""

    parse = staticmethod(oco_request_deprecated)


class OrderListView(TradeView):
    """``GET`` (USER_DATA, weight 4) and ``DELETE`` (TRADE, weight 1) ``/api/v3/orderList``."""

    def get_permissions(self):
        return [KeyMayRead()] if self.request.method == "GET" else [KeyMayTrade()]

    def request_weight(self, request: Request) -> int:
        return 4 if request.method == "GET" else 1

    def get(self, request: Request) -> Response:
        params = params_of(request)
        order_list = _find_list(request, params, "origClientOrderId", code=-2013)
        return Response(order_list_out(order_list, order_list.market, _legs(order_list)))

    def delete(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        order_list = _find_list(request, params, "listClientOrderId", code=-2011)
        if order_list.market_id != market.pk:
            raise _unknown_list(-2011)
        cancel_id = client_order_id_param(params, "newClientOrderId")
        if order_list.status != OrderList.Status.ACTIVE:
            raise _unknown_list(-2011)
        order_list_cancel(user_id=request.user.pk, list_id=order_list.pk)
        legs = _wait_legs(_legs(order_list), until_closed=True)
        order_list.refresh_from_db()
        body = order_list_out(order_list, market, legs)
        reports = order_reports(legs, market)
        for report in reports:
            report["origClientOrderId"] = report["clientOrderId"]
            report["clientOrderId"] = cancel_id or report["clientOrderId"]
        body["orderReports"] = reports
        return Response(body)


def _lists_out(rows) -> list[dict[str, Any]]:
    lists = list(rows)
    legs: dict[int, list[Order]] = {}
    for order in Order.objects.filter(order_list__in=[r.pk for r in lists]).order_by("id"):
        legs.setdefault(order.order_list_id, []).append(order)
    return [order_list_out(r, market_get_by_id(market_id=r.market_id), legs.get(r.pk, [])) for r in lists]


class OpenOrderListView(SignedView):
    """``GET /api/v3/openOrderList``: the key owner's active OCO lists, every symbol."""

    weight = 6

    def get(self, request: Request) -> Response:
        rows = OrderList.objects.filter(user_id=request.user.pk, status=OrderList.Status.ACTIVE).order_by("id")
        return Response(_lists_out(rows))


class AllOrderListView(SignedView):
    """``GET /api/v3/allOrderList``: ``fromId`` or a time window of at most 24 hours, ``limit`` up to 1000."""

    weight = 20

    def get(self, request: Request) -> Response:
        params = params_of(request)
        rows = OrderList.objects.filter(user_id=request.user.pk)
        from_id = params.integer("fromId")
        start, end = params.millis("startTime"), params.millis("endTime")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(-1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and ms(end) - ms(start) > MAX_LIST_WINDOW_MS:
            raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
        if from_id is not None:
            rows = rows.filter(id__gte=from_id)
        rows, from_start = _window(params, rows)
        found = _ascending(rows, limit=_limit(params), from_start=from_start or from_id is not None)
        return Response(_lists_out(found))


def amended_order(order: Order, market: Market, orig_client_id: str) -> dict[str, Any]:
    """``amendedOrder`` of Binance's amend answer (its field names differ from the other order shapes)."""
    return {
        "symbol": symbol_of(market),
        "orderId": order.pk,
        "orderListId": order_list_id(order),
        "origClientOrderId": orig_client_id,
        "clientOrderId": client_order_id(order),
        "price": num(order.price),
        "qty": num(order.quantity),
        "executedQty": num(order.filled_quantity),
        "preventedQty": "0",
        "quoteOrderQty": num(order.quote_quantity),
        "cumulativeQuoteQty": num(order.filled_quote),
        "status": order_status(order),
        "timeInForce": order.time_in_force,
        "type": order_type(order),
        "side": order.side.upper(),
        "workingTime": working_time(order),
        "selfTradePreventionMode": STP_OUT.get(order.self_trade_prevention, "EXPIRE_TAKER"),
    }


class OrderAmendKeepPriorityView(TradeView):
    """``PUT /api/v3/order/amend/keepPriority``: lower an open order's quantity, keeping its place."""

    weight = 4

    def put(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        order = _find_order(request, market)
        new_client_id = client_order_id_param(params, "newClientOrderId")
        new_qty = params.decimal("newQty")
        if new_qty is None:
            raise mandatory("newQty")
        if new_qty <= 0:
            raise invalid("newQty")
        if new_client_id is not None and new_client_id != order.client_order_id:
            # Our orders keep their client order id; sending the current one is Binance's way to keep it.
            raise BinanceError(-2038, "Changing the client order id of an order is not supported.")
        if order.status not in Order.OPEN_STATUSES:
            raise BinanceError(-2038, "Unknown order sent.")
        if order.quantity is not None and new_qty == order.quantity:
            raise BinanceError(-2038, "The requested action would change no state; rejecting")
        if order.quantity is None or new_qty > order.quantity:
            raise BinanceError(-2038, "Order amend (quantity increase) is not supported.")
        orig_client_id = client_order_id(order)
        try:
            # Waits (boundedly) for the matcher to apply it, like Binance's answer from the engine.
            order = order_amend(user_id=request.user.pk, order_id=order.pk, quantity=new_qty)
        except DomainError as exc:
            if exc.code in ("order_not_amendable", "not_found"):
                raise BinanceError(-2038, "Unknown order sent.") from exc
            raise
        body: dict[str, Any] = {
            "transactTime": ms(order.amended_at or order.updated_at),
            "executionId": Market.objects.filter(pk=market.pk).values_list("last_sequence", flat=True).first() or 0,
            "amendedOrder": amended_order(order, market, orig_client_id),
        }
        if order.order_list_id is not None:
            order_list = OrderList.objects.get(pk=order.order_list_id)
            body["listStatus"] = order_list_out(order_list, market, _legs(order_list))
        return Response(body)
