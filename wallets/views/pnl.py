"""My realized PnL per market (kept by settlement; the rule is in ``wallets.pnl``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import UNAUTHENTICATED, error_doc

from .. import selectors
from ..serializers import PnlQuerySerializer, PnlSerializer

MARKET_FILTER = OpenApiParameter("market", OpenApiTypes.STR, description="Only this market symbol (e.g. BTC-USDT).")


class PnlView(APIView):
    @extend_schema(
        parameters=[MARKET_FILTER],
        responses={
            200: PnlSerializer(many=True),
            400: error_doc("`validation_error`: unknown or malformed market."),
            401: UNAUTHENTICATED,
        },
        summary="My realized PnL per market: average cost, quote currency, fees included",
        tags=["wallet"],
    )
    def get(self, request: Request) -> Response:
        query = PnlQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.pnl_for_user(user_id=request.user.pk, market_symbol=query.validated_data.get("market"))
        return Response(PnlSerializer(rows, many=True).data)
