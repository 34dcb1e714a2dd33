"""Public market data (no authentication): translate the query, call a selector, render."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import page_limit

from .. import selectors, selectors_cached
from ..candles import EPOCH
from ..serializers_public import (
    CandleQuerySerializer,
    CandleSerializer,
    CurrencySerializer,
    DepthSerializer,
    MarketSerializer,
    PublicTradeSerializer,
    ServerTimeSerializer,
    TickerSerializer,
)

TAG = ["market data"]
NOT_FOUND = OpenApiResponse(description="Unknown market (`not_found`).")
BAD_INPUT = OpenApiResponse(description="Bad query parameter (`validation_error`).")


def _limit_param(default: int, maximum: int) -> OpenApiParameter:
    return OpenApiParameter(
        "limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description=f"1..{maximum}, default {default}."
    )


def _cached(body: bytes) -> HttpResponse:
    """Send bytes the matcher rendered with the API's own renderer (same body, same type)."""
    return HttpResponse(body, content_type="application/json")


def _cacheable(symbol: str) -> bool:
    # A symbol that could be a cache key without warnings (printable ASCII, no space).
    return selectors.symbol_valid(symbol) and symbol.isascii() and symbol.isprintable() and " " not in symbol


def _default_limit(request: Request) -> bool:
    return request.query_params.get("limit") in (None, "")


class PublicView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class ServerTimeView(PublicView):
    @extend_schema(tags=TAG, responses=ServerTimeSerializer, summary="Server time")
    def get(self, request: Request) -> Response:
        now = timezone.now()
        epoch_ms = (now - EPOCH) // timedelta(milliseconds=1)
        return Response(ServerTimeSerializer({"server_time": now, "epoch_ms": epoch_ms}).data)


class CurrencyListView(PublicView):
    @extend_schema(tags=TAG, responses=CurrencySerializer(many=True), summary="Currencies")
    def get(self, request: Request) -> Response:
        return Response(CurrencySerializer(selectors.currency_list(), many=True).data)


class MarketListView(PublicView):
    @extend_schema(tags=TAG, responses=MarketSerializer(many=True), summary="Markets")
    def get(self, request: Request) -> Response:
        return Response(MarketSerializer(selectors.market_list(), many=True).data)


class MarketDetailView(PublicView):
    @extend_schema(tags=TAG, responses={200: MarketSerializer, 404: NOT_FOUND}, summary="One market")
    def get(self, request: Request, symbol: str) -> Response:
        return Response(MarketSerializer(selectors.market_get(symbol=symbol)).data)


class DepthView(PublicView):
    @extend_schema(
        tags=TAG,
        parameters=[_limit_param(50, 500)],
        responses={200: DepthSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
        summary="Order book snapshot",
    )
    def get(self, request: Request, symbol: str) -> HttpResponse:
        # Only existing markets have entries, so a hit needs no market lookup; otherwise
        # the market is checked before the limit, as always (404 before 400).
        if _default_limit(request) and _cacheable(symbol):
            body = selectors_cached.depth_body_cached(symbol=symbol, limit=selectors_cached.DEPTH_DEFAULT)
            if body is not None:
                return _cached(body)
        market = selectors.market_get(symbol=symbol)
        limit = page_limit(request, default=selectors_cached.DEPTH_DEFAULT, maximum=500)
        body = selectors_cached.depth_body_cached(symbol=symbol, limit=limit) if _cacheable(symbol) else None
        if body is not None:
            return _cached(body)
        return Response(DepthSerializer(selectors.depth_get(market=market, limit=limit)).data)


class RecentTradeListView(PublicView):
    @extend_schema(
        tags=TAG,
        parameters=[_limit_param(100, 1000)],
        responses={200: PublicTradeSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
        summary="Recent trades, newest first",
    )
    def get(self, request: Request, symbol: str) -> HttpResponse:
        if _default_limit(request) and _cacheable(symbol):
            body = selectors_cached.trades_body_cached(symbol=symbol, limit=selectors_cached.TRADES_DEFAULT)
            if body is not None:
                return _cached(body)
        market = selectors.market_get(symbol=symbol)
        limit = page_limit(request, default=selectors_cached.TRADES_DEFAULT, maximum=1000)
        body = selectors_cached.trades_body_cached(symbol=symbol, limit=limit) if _cacheable(symbol) else None
        if body is not None:
            return _cached(body)
        trades = selectors.trade_list_recent(market=market, limit=limit)
        return Response(PublicTradeSerializer(trades, many=True).data)


class CandleListView(PublicView):
    @extend_schema(
        tags=TAG,
        parameters=[CandleQuerySerializer],
        responses={200: CandleSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
        summary="Candles, oldest first",
        description="Built from 1-minute candles; buckets are aligned to the Unix epoch (1d on UTC midnight). "
        "Intervals without trades have no candle. Without `start`, the most recent `limit` candles.",
    )
    def get(self, request: Request, symbol: str) -> Response:
        market = selectors.market_get(symbol=symbol)
        query = CandleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        bars = selectors.candle_list(market=market, **query.validated_data)
        return Response(CandleSerializer(bars, many=True).data)


class TickerView(PublicView):
    @extend_schema(tags=TAG, responses={200: TickerSerializer, 404: NOT_FOUND}, summary="24 h ticker")
    def get(self, request: Request, symbol: str) -> HttpResponse:
        if _cacheable(symbol):
            body = selectors_cached.ticker_bodies_cached(symbols=[symbol]).get(symbol)
            if body is not None:
                return _cached(body)
        return Response(selectors.ticker_get(market=selectors.market_get(symbol=symbol)))


class TickerListView(PublicView):
    @extend_schema(tags=TAG, responses=TickerSerializer(many=True), summary="Every market's 24 h ticker")
    def get(self, request: Request) -> HttpResponse:
        return _cached(selectors.tickers_body())
