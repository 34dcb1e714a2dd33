"""Signed /api/v3 endpoints: the account, orders and fills, over the same services as /api/v1."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from markets.models import Market, Order, Trade
from trading.selectors import market_get_by_id
from trading.services import order_cancel, order_check, order_place, orders_cancel_all
from wallets.selectors import balances_for_user

from .base import KeyMayRead, KeyMayTrade, SignedView, TradeView, params_of
from .errors import BinanceError, unknown_order
from .limits import orders_count
from .orders import client_order_id_param, order_request, order_wait
from .params import Params
from .render import market_for, markets_by_binance_symbol, ms, my_trade, num, order_fill, order_query, order_result

BPS = Decimal(10000)


def _limit(params: Params) -> int:
    return params.integer("limit", default=500, minimum=1, maximum=1000)


def _window(params: Params, rows, field: str = "created_at"):
    start, end = params.millis("startTime"), params.millis("endTime")
    if start is not None and end is not None and start > end:
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    if start is not None:
        rows = rows.filter(**{f"{field}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{field}__lte": end})
    return rows, start is not None


def _ascending(rows, *, limit: int, from_start: bool) -> list:
    """Binance's order: from the start when one is given, else the most recent ``limit``, oldest first."""
    if from_start:
        return list(rows.order_by("id")[:limit])
    return list(rows.order_by("-id")[:limit])[::-1]


def _find_order(request: Request, market: Market) -> Order:
    params = params_of(request)
    order_id = params.integer("orderId")
    client_id = client_order_id_param(params, "origClientOrderId")
    if order_id is None and client_id is None:
        raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    rows = Order.objects.filter(user_id=request.user.pk, market=market)
    order = rows.filter(pk=order_id).first() if order_id is not None else rows.filter(client_order_id=client_id).first()
    if order is None or (client_id is not None and order.client_order_id != client_id):
        raise unknown_order()
    return order


class AccountView(SignedView):
    weight = 20

    def get(self, request: Request) -> Response:
        omit_zero = params_of(request).boolean("omitZeroBalances")
        markets = list(markets_by_binance_symbol().values())
        maker = max((m.maker_fee for m in markets), default=Decimal(0))
        taker = max((m.taker_fee for m in markets), default=Decimal(0))
        balances = [
            {"asset": row.currency, "free": num(row.available), "locked": num(row.locked)}
            for row in balances_for_user(user=request.user)
            if not omit_zero or row.balance
        ]
        frozen = bool(getattr(request.user, "trading_frozen", False))
        return Response(
            {
                "makerCommission": int(maker * BPS),
                "takerCommission": int(taker * BPS),
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": num(maker), "taker": num(taker), "buyer": "0", "seller": "0"},
                "canTrade": request.auth.can_trade and not frozen,
                "canWithdraw": False,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": ms(timezone.now()),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": request.user.pk,
            }
        )


class OrderView(TradeView):
    def get_permissions(self):
        return [KeyMayRead()] if self.request.method == "GET" else [KeyMayTrade()]

    def request_weight(self, request: Request) -> int:
        return 4 if request.method == "GET" else 1

    def get(self, request: Request) -> Response:
        market = market_for(params_of(request).require("symbol"))
        return Response(order_query(_find_order(request, market), market))

    def post(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        placement = order_request(params, market)
        headers = orders_count(key_id=request.auth.pk)
        order, _ = order_place(
            user_id=request.user.pk, market=placement.market, order=placement.order, current_user=request.user
        )
        if placement.response_type == "ACK":
            body: dict[str, Any] = {
                "symbol": params.require("symbol"),
                "orderId": order.pk,
                "orderListId": -1,
                "clientOrderId": order.client_order_id,
                "transactTime": ms(order.created_at),
            }
            return Response(body, headers=headers)
        order = order_wait(order_id=order.pk, until_closed=False)
        if order.status == Order.Status.REJECTED and order.reject_reason == "post_only_would_take":
            raise BinanceError(-2010, "Order would immediately match and take.")
        if order.status == Order.Status.REJECTED and order.reject_reason == "stop_would_trigger":
            raise BinanceError(-2010, "Order would trigger immediately.")
        body = order_result(order, market)
        if placement.response_type == "FULL":
            trades = Trade.objects.filter(Q(taker_order_id=order.pk) | Q(maker_order_id=order.pk)).order_by("id")
            body["fills"] = [order_fill(t, market, request.user.pk) for t in trades]
        return Response(body, headers=headers)

    def delete(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        order = _find_order(request, market)
        cancel_id = client_order_id_param(params, "newClientOrderId")
        order_cancel(user_id=request.user.pk, order_id=order.pk)
        order = order_wait(order_id=order.pk, until_closed=True)
        body = order_result(order, market)
        body["origClientOrderId"] = body["clientOrderId"]
        body["clientOrderId"] = cancel_id or body["clientOrderId"]
        return Response(body)


class OrderTestView(TradeView):
    def post(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        placement = order_request(params, market)
        order_check(market=market, order=placement.order)
        if params.boolean("computeCommissionRates"):
            rates = {"maker": num(market.maker_fee), "taker": num(market.taker_fee)}
            return Response(
                {
                    "standardCommissionForOrder": rates,
                    "taxCommissionForOrder": {"maker": "0", "taker": "0"},
                    "discount": {
                        "enabledForAccount": False,
                        "enabledForSymbol": False,
                        "discountAsset": None,
                        "discount": "0",
                    },
                }
            )
        return Response({})


class OpenOrdersView(TradeView):
    def get_permissions(self):
        return [KeyMayRead()] if self.request.method == "GET" else [KeyMayTrade()]

    def request_weight(self, request: Request) -> int:
        return 6 if params_of(request).has("symbol") or request.method == "DELETE" else 80

    def get(self, request: Request) -> Response:
        symbol = params_of(request).get("symbol")
        rows = Order.objects.filter(user_id=request.user.pk, status__in=Order.OPEN_STATUSES)
        if symbol is not None:
            rows = rows.filter(market=market_for(symbol))
        return Response([order_query(o, market_get_by_id(market_id=o.market_id)) for o in rows.order_by("id")])

    def delete(self, request: Request) -> Response:
        market = market_for(params_of(request).require("symbol"))
        ids = list(
            Order.objects.filter(user_id=request.user.pk, market=market, status__in=Order.OPEN_STATUSES)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not ids:
            raise BinanceError(-2011, "Unknown order sent.")
        orders_cancel_all(user_id=request.user.pk, market=market)
        closed = [order_wait(order_id=pk, until_closed=True) for pk in ids]
        return Response([order_result(o, market) | {"origClientOrderId": o.client_order_id or ""} for o in closed])


class AllOrdersView(SignedView):
    weight = 20

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        rows = Order.objects.filter(user_id=request.user.pk, market=market)
        order_id = params.integer("orderId")
        if order_id is not None:
            rows = rows.filter(id__gte=order_id)
        rows, from_start = _window(params, rows)
        orders = _ascending(rows, limit=_limit(params), from_start=from_start or order_id is not None)
        return Response([order_query(o, market) for o in orders])


class MyTradesView(SignedView):
    def request_weight(self, request: Request) -> int:
        return 5 if params_of(request).has("orderId") else 20

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        uid = request.user.pk
        rows = Trade.objects.filter(Q(maker_user_id=uid) | Q(taker_user_id=uid), market=market)
        order_id, from_id = params.integer("orderId"), params.integer("fromId")
        if order_id is not None:
            rows = rows.filter(Q(maker_order_id=order_id) | Q(taker_order_id=order_id))
        if from_id is not None:
            rows = rows.filter(id__gte=from_id)
        start, end = params.millis("startTime"), params.millis("endTime")
        if start is not None and end is not None and end - start > timedelta(hours=24):
            raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
        rows, from_start = _window(params, rows)
        trades = _ascending(rows, limit=_limit(params), from_start=from_start or from_id is not None)
        order_ids = {t.maker_order_id for t in trades} | {t.taker_order_id for t in trades}
        lists = dict(
            Order.objects.filter(pk__in=order_ids, user_id=uid, order_list__isnull=False).values_list(
                "id", "order_list_id"
            )
        )
        return Response([my_trade(t, market, uid, lists) for t in trades])
