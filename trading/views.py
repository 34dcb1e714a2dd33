"""Trader REST API: orders, cancels and fills. Views only translate."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import AnyJSONNegotiation, cursor_page, error_doc, page_answer, page_window
from exchange_site.errors import DomainError
from exchange_site.throttles import TradingThrottle

from . import fastpath
from . import selectors as sel
from .serializers import FillOut, OrderOut, OrderPlaceIn, fill_for, order_out
from .services import OrderRequest, order_cancel, order_place, orders_cancel_all
from .views_order_types import OrderAmendMixin

MARKET_PARAM = OpenApiParameter("market", str, required=False)
PAGE_PARAMS = [OpenApiParameter("limit", int, required=False), OpenApiParameter("cursor", str, required=False)]


UNAUTHENTICATED = error_doc("`not_authenticated`: missing, invalid or expired access token.")
BAD_QUERY = error_doc("`validation_error`: unknown market, bad `status`, `limit` or `cursor`.")
NOT_MINE = error_doc("`not_found`: no such order of mine (another user's order is not found either).")
THROTTLED = error_doc("`throttled`: too many orders or cancels; see the `Retry-After` header.")


def _paged(serializer):
    return inline_serializer(
        name=f"Paged{serializer.__name__}",
        fields={"results": serializer(many=True), "next": serializers.CharField(allow_null=True)},
    )


class OrdersView(APIView):
    content_negotiation_class = AnyJSONNegotiation

    def get_throttles(self):
        # Placing and canceling are limited per user; reading my orders is not.
        return [TradingThrottle()] if self.request.method in ("POST", "DELETE") else []

    @extend_schema(
        request=OrderPlaceIn,
        responses={
            201: OrderOut,
            200: OrderOut,
            400: error_doc(
                "`validation_error`, `invalid_price`, `invalid_quantity`, `min_notional`, `insufficient_funds`, "
                "`market_halted`, `stop_would_trigger` (a stop whose stop_price the last price already crossed, "
                "without `trigger_immediately`; `expire_time` of a GTD order not in the future: `validation_error`)."
            ),
            401: UNAUTHENTICATED,
            409: error_doc("`duplicate_client_order_id`: the client_order_id is taken by another payload."),
            429: THROTTLED,
        },
        operation_id="order_place",
        summary="Place an order",
    )
    def post(self, request: Request) -> Response:
        # issue 10: a plainly well-formed body skips DRF's serializer (trading.fastpath.order_body_valid).
        v = fastpath.order_body_valid(request.data)
        if v is None:
            data = OrderPlaceIn(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
        market = sel.market_get_by_symbol(symbol=v["market"])
        order_request = OrderRequest(
            side=v["side"],
            type=v["type"],
            price=v.get("price"),
            quantity=v.get("quantity"),
            quote_quantity=v.get("quote_quantity"),
            time_in_force=v["time_in_force"],
            post_only=v["post_only"],
            client_order_id=v.get("client_order_id"),
            self_trade_prevention=v["self_trade_prevention"],
            stop_price=v.get("stop_price"),
            trigger_immediately=v.get("trigger_immediately", False),
            expire_time=v.get("expire_time"),
        )
        order, created = order_place(
            user_id=request.user.pk, market=market, order=order_request, current_user=request.user
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(order_out(order, market.symbol), status=answer)

    @extend_schema(
        parameters=[MARKET_PARAM, OpenApiParameter("status", str, required=False), *PAGE_PARAMS],
        responses={200: _paged(OrderOut), 400: BAD_QUERY, 401: UNAUTHENTICATED},
        operation_id="orders_list",
        summary="My orders, newest first",
    )
    def get(self, request: Request) -> Response:
        market_id, statuses = sel.order_filter(
            market=request.query_params.get("market"), status=request.query_params.get("status")
        )
        limit, before = page_window(request)
        # Plain rows from one statement, their symbols from the process cache of markets.
        rows = sel.orders_page(
            user_id=request.user.pk, market_id=market_id, statuses=statuses, before=before, limit=limit + 1
        )
        symbols = sel.market_symbols(r.market_id for r in rows)
        return Response(page_answer(rows, limit, lambda page: [order_out(r, symbols[r.market_id]) for r in page]))

    @extend_schema(
        parameters=[OpenApiParameter("market", str, required=True)],
        responses={
            202: inline_serializer("CancelAll", {"canceled": serializers.IntegerField()}),
            400: error_doc("`validation_error`: `market` missing or unknown."),
            401: UNAUTHENTICATED,
            429: THROTTLED,
        },
        operation_id="orders_cancel_all",
        summary="Cancel all my open orders in a market",
    )
    def delete(self, request: Request) -> Response:
        symbol = request.query_params.get("market")
        if not symbol:
            raise DomainError("market is required.", code="validation_error")
        market = sel.market_get_by_symbol(symbol=symbol)
        count = orders_cancel_all(user_id=request.user.pk, market=market)
        return Response({"canceled": count}, status=status.HTTP_202_ACCEPTED)


class OrderView(OrderAmendMixin, APIView):
    content_negotiation_class = AnyJSONNegotiation

    def get_throttles(self):
        return [TradingThrottle()] if self.request.method in ("DELETE", "PATCH") else []

    @extend_schema(
        responses={200: OrderOut, 401: UNAUTHENTICATED, 404: NOT_MINE},
        operation_id="order_get",
        summary="One of my orders",
    )
    def get(self, request: Request, order_id: int) -> Response:
        order = sel.order_get_for_user(user_id=request.user.pk, order_id=order_id)
        return Response(order_out(order, order.market.symbol))

    @extend_schema(
        responses={
            202: OrderOut,
            401: UNAUTHENTICATED,
            404: NOT_MINE,
            409: error_doc("`order_not_cancelable`: the order is already closed."),
            429: THROTTLED,
        },
        operation_id="order_cancel",
        summary="Request a cancel",
    )
    def delete(self, request: Request, order_id: int) -> Response:
        order = order_cancel(user_id=request.user.pk, order_id=order_id)
        market = sel.market_get_by_id(market_id=order.market_id)
        return Response(order_out(order, market.symbol), status=status.HTTP_202_ACCEPTED)


class OrderByClientIdView(APIView):
    @extend_schema(
        responses={200: OrderOut, 401: UNAUTHENTICATED, 404: NOT_MINE},
        operation_id="order_get_by_client_id",
        summary="One of my orders by client id",
    )
    def get(self, request: Request, client_order_id: str) -> Response:
        order = sel.order_get_for_user(user_id=request.user.pk, client_order_id=client_order_id)
        return Response(order_out(order, order.market.symbol))


class MyTradesView(APIView):
    @extend_schema(
        parameters=[MARKET_PARAM, *PAGE_PARAMS],
        responses={200: _paged(FillOut), 400: BAD_QUERY, 401: UNAUTHENTICATED},
        operation_id="my_trades",
        summary="My fills, newest first",
    )
    def get(self, request: Request) -> Response:
        qs = sel.fills_for_user(user_id=request.user.pk, market=request.query_params.get("market"))
        uid = request.user.pk
        return cursor_page(request, qs, lambda rows: [FillOut(fill_for(t, uid)).data for t in rows])
