"""Public /api/v3 endpoints (security NONE): views translate parameters, selectors read."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from markets import selectors as market_selectors
from markets.candles import KLINE_INTERVALS, Bar, interval_end
from markets.models import Market

from . import selectors
from .base import BinanceView, params_of
from .errors import BinanceError, mandatory
from .render import market_for, markets_by_binance_symbol, ms, num, public_trade, symbol_of

ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
STP_MODES = ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
# Upper bounds the filters state: what numeric(36, 18) columns can hold.
MAX_AMOUNT = "9" * 11


def _symbols(request: Request) -> list[Market] | None:
    """``symbol`` or ``symbols`` (a JSON array) as markets; None when neither was sent."""
    params = params_of(request)
    symbol, symbols = params.get("symbol"), params.get("symbols")
    if symbol is not None and symbols is not None:
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    if symbol is not None:
        return [market_for(symbol)]
    if symbols is None:
        return None
    try:
        names = json.loads(symbols)
    except ValueError:
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names) or len(names) > 100:
        raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.")
    if len(set(names)) != len(names):
        raise BinanceError(-1151, "Symbol is present multiple times in the list.")
    return [market_for(name) for name in names]


def _one_or_many(markets: list[Market] | None, single: bool, render) -> Response:
    if single:
        return Response(render(markets[0]))
    chosen = markets if markets is not None else list(markets_by_binance_symbol().values())
    return Response([render(m) for m in chosen])


class PingView(BinanceView):
    def get(self, request: Request) -> Response:
        return Response({})


class TimeView(BinanceView):
    def get(self, request: Request) -> Response:
        return Response({"serverTime": ms(timezone.now())})


def _filters(market: Market) -> list[dict[str, Any]]:
    min_qty = max(market.min_qty, market.lot_size)
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": num(market.tick_size),
            "maxPrice": MAX_AMOUNT,
            "tickSize": num(market.tick_size),
        },
        {"filterType": "LOT_SIZE", "minQty": num(min_qty), "maxQty": MAX_AMOUNT, "stepSize": num(market.lot_size)},
        {
            "filterType": "NOTIONAL",
            "minNotional": num(market.min_notional),
            "applyMinToMarket": True,
            "maxNotional": MAX_AMOUNT,
            "applyMaxToMarket": False,
            "avgPriceMins": selectors.AVG_PRICE_MINUTES,
        },
    ]


def _symbol_info(market: Market) -> dict[str, Any]:
    base, quote = market.base, market.quote
    return {
        "symbol": symbol_of(market),
        "status": "TRADING" if market.status == Market.Status.OPEN else "HALT",
        "baseAsset": base.code,
        "baseAssetPrecision": base.precision,
        "quoteAsset": quote.code,
        "quotePrecision": quote.precision,
        "quoteAssetPrecision": quote.precision,
        "baseCommissionPrecision": base.precision,
        "quoteCommissionPrecision": quote.precision,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": True,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": _filters(market),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
        "allowedSelfTradePreventionModes": STP_MODES,
    }


def rate_limits() -> list[dict[str, Any]]:
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": settings.BINANCE_WEIGHT_PER_MINUTE,
        },
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": settings.BINANCE_ORDERS_PER_10S},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": settings.BINANCE_ORDERS_PER_DAY},
    ]


class ExchangeInfoView(BinanceView):
    weight = 20

    def get(self, request: Request) -> Response:
        markets = _symbols(request)
        chosen = markets if markets is not None else list(markets_by_binance_symbol().values())
        return Response(
            {
                "timezone": "UTC",
                "serverTime": ms(timezone.now()),
                "rateLimits": rate_limits(),
                "exchangeFilters": [],
                "symbols": [_symbol_info(m) for m in chosen],
            }
        )


class DepthView(BinanceView):
    def request_weight(self, request: Request) -> int:
        limit = params_of(request).integer("limit", default=100, minimum=1, maximum=5000)
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        limit = params.integer("limit", default=100, minimum=1, maximum=5000)
        depth = market_selectors.depth_get(market=market, limit=limit)
        return Response({"lastUpdateId": depth["sequence"], "bids": depth["bids"], "asks": depth["asks"]})


class TradesView(BinanceView):
    weight = 25

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        limit = params.integer("limit", default=500, minimum=1, maximum=1000)
        trades = market_selectors.trade_list_recent(market=market, limit=limit)
        return Response([public_trade(t) for t in reversed(trades)])


class AggTradesView(BinanceView):
    weight = 4

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        limit = params.integer("limit", default=500, minimum=1, maximum=1000)
        from_id = params.integer("fromId")
        start, end = params.millis("startTime"), params.millis("endTime")
        if start is not None and end is not None and end - start > timedelta(hours=1):
            raise BinanceError(-1127, "More than 1 hours between startTime and endTime.")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(-1128, "Combination of optional parameters invalid.")
        return Response(selectors.agg_trades(market, from_id=from_id, start=start, end=end, limit=limit))


class KlinesView(BinanceView):
    """``klines`` and ``uiKlines`` (the same bars here: no interval needs the UI's adjustments)."""

    weight = 2

    def get(self, request: Request) -> Response:
        params = params_of(request)
        market = market_for(params.require("symbol"))
        interval = params.get("interval")
        if interval is None:
            raise mandatory("interval")
        if interval not in KLINE_INTERVALS:
            raise BinanceError(-1120, "Invalid interval.")
        limit = params.integer("limit", default=500, minimum=1, maximum=1000)
        start, end = params.millis("startTime"), params.millis("endTime")
        if start is not None and end is not None and start > end:
            raise BinanceError(-1128, "Combination of optional parameters invalid.")
        if params.get("timeZone") not in (None, "0", "+0", "-0", "00:00", "+00:00", "-00:00"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'timeZone'; only UTC is supported.")
        bars = market_selectors.candle_list(market=market, interval=interval, limit=limit, start=start, end=end)
        return Response([kline_row(b, interval) for b in bars])


def kline_row(bar: Bar, interval: str) -> list[Any]:
    """One bar as Binance's kline array (taker-buy volumes are not recorded per candle: fields 10 and 11 are "0")."""
    return [
        ms(bar.open_time),
        num(bar.open),
        num(bar.high),
        num(bar.low),
        num(bar.close),
        num(bar.volume),
        ms(interval_end(bar.open_time, interval)) - 1,
        num(bar.quote_volume),
        bar.trade_count,
        "0",
        "0",
        "0",
    ]


class Ticker24hView(BinanceView):
    def request_weight(self, request: Request) -> int:
        params = params_of(request)
        return 2 if params.has("symbol") or params.has("symbols") else 80

    def get(self, request: Request) -> Response:
        params = params_of(request)
        kind = params.choice("type", ("FULL", "MINI"), code=-1139, msg="Invalid ticker type.") or "FULL"
        now = timezone.now()
        markets = _symbols(request)
        return _one_or_many(
            markets, params.has("symbol"), lambda m: selectors.ticker_24h(m, now=now, mini=kind == "MINI")
        )


class TickerPriceView(BinanceView):
    def request_weight(self, request: Request) -> int:
        return 2 if params_of(request).has("symbol") else 4

    def get(self, request: Request) -> Response:
        return _one_or_many(
            _symbols(request),
            params_of(request).has("symbol"),
            lambda m: {"symbol": symbol_of(m), "price": num(selectors.last_price(m))},
        )


class BookTickerView(BinanceView):
    def request_weight(self, request: Request) -> int:
        return 2 if params_of(request).has("symbol") else 4

    def get(self, request: Request) -> Response:
        return _one_or_many(_symbols(request), params_of(request).has("symbol"), selectors.book_top)


class AvgPriceView(BinanceView):
    weight = 2

    def get(self, request: Request) -> Response:
        market = market_for(params_of(request).require("symbol"))
        return Response(selectors.avg_price(market, now=timezone.now()))


class UnsupportedView(BinanceView):
    """Any other path under /api/v3: Binance's error body, not an HTML page."""

    def _refuse(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise BinanceError(-1020, "This operation is not supported.", 404)

    get = post = put = patch = delete = _refuse
