"""REST views of the order types of issue 14: OCO order lists and amend. Views only translate."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import error_doc
from exchange_site.throttles import TradingThrottle

from . import selectors as sel
from .amend import order_amend
from .order_lists import OcoRequest, order_list_cancel, order_list_get, order_list_place_oco
from .serializers import OcoPlaceIn, OrderAmendIn, OrderListOut, OrderOut, order_list_out, order_out

UNAUTHENTICATED = error_doc("`not_authenticated`: missing, invalid or expired access token.")
THROTTLED = error_doc("`throttled`: too many orders or cancels; see the `Retry-After` header.")
LIST_NOT_MINE = error_doc("`not_found`: no such order list of mine (another user's is not found either).")


class OcoView(APIView):
    throttle_classes = [TradingThrottle]

    @extend_schema(
        request=OcoPlaceIn,
        responses={
            201: OrderListOut,
            200: OrderListOut,
            400: error_doc(
                "`validation_error`, `invalid_price`, `invalid_quantity`, `min_notional`, `insufficient_funds`, "
                "`market_halted`, `stop_would_trigger` (the last price is already past stop_price)."
            ),
            401: UNAUTHENTICATED,
            409: error_doc("`duplicate_client_order_id`: the client_order_id is taken by another payload."),
            429: THROTTLED,
        },
        operation_id="order_list_place_oco",
        summary="Place an OCO pair: a limit leg and a stop leg sharing one lock",
    )
    def post(self, request: Request) -> Response:
        data = OcoPlaceIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        market = sel.market_get_by_symbol(symbol=v["market"])
        existing_before = v.get("client_order_id") and sel.order_list_exists(
            user_id=request.user.pk, client_order_id=v["client_order_id"]
        )
        order_list = order_list_place_oco(
            request.user.pk,
            market,
            OcoRequest(
                side=v["side"],
                quantity=v["quantity"],
                price=v["price"],
                stop_price=v["stop_price"],
                stop_limit_price=v.get("stop_limit_price"),
                client_order_id=v.get("client_order_id"),
            ),
        )
        answer = status.HTTP_200_OK if existing_before else status.HTTP_201_CREATED
        return Response(order_list_out(order_list, market.symbol), status=answer)


class OrderListView(APIView):
    def get_throttles(self):
        return [TradingThrottle()] if self.request.method == "DELETE" else []

    @extend_schema(
        responses={200: OrderListOut, 401: UNAUTHENTICATED, 404: LIST_NOT_MINE},
        operation_id="order_list_get",
        summary="One of my order lists, with its legs",
    )
    def get(self, request: Request, list_id: int) -> Response:
        order_list = order_list_get(request.user.pk, list_id)
        return Response(order_list_out(order_list, order_list.market.symbol))

    @extend_schema(
        responses={
            202: OrderListOut,
            401: UNAUTHENTICATED,
            404: LIST_NOT_MINE,
            409: error_doc("`order_not_cancelable`: the list is done."),
            429: THROTTLED,
        },
        operation_id="order_list_cancel",
        summary="Request the cancel of both legs",
    )
    def delete(self, request: Request, list_id: int) -> Response:
        order_list = order_list_cancel(request.user.pk, list_id)
        market = sel.market_get_by_id(market_id=order_list.market_id)
        return Response(order_list_out(order_list, market.symbol), status=status.HTTP_202_ACCEPTED)


class OrderAmendMixin:
    """PATCH /orders/{id}, mixed into trading's ``OrderView``."""

    @extend_schema(
        request=OrderAmendIn,
        responses={
            200: OrderOut,
            202: OrderOut,
            400: error_doc(
                "`validation_error` (neither field), `invalid_price`, `invalid_quantity` (also: not more than "
                "what is filled), `min_notional`, `insufficient_funds`, `market_halted`."
            ),
            401: UNAUTHENTICATED,
            404: error_doc("`not_found`: no such order of mine."),
            409: error_doc(
                "`order_not_amendable`: the order is closed, not a resting limit order, a linked OCO leg, "
                "has a cancel or another amend pending, or closed before the matcher applied the amend."
            ),
            429: THROTTLED,
        },
        operation_id="order_amend",
        summary="Amend an open order's quantity and/or price (200 applied; 202 still pending at the matcher)",
    )
    def patch(self, request: Request, order_id: int) -> Response:
        data = OrderAmendIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order = order_amend(request.user.pk, order_id, quantity=v.get("quantity"), price=v.get("price"))
        market = sel.market_get_by_id(market_id=order.market_id)
        pending = order.amend_requested_at is not None
        return Response(order_out(order, market.symbol), status=status.HTTP_202_ACCEPTED if pending else 200)
