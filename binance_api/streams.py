"""Binance market-data stream names and payloads, made from the project's own real-time frames.

A ws process takes each ``/ws/v1/`` market-data frame once (``binance_api.stream_hub``)
and turns it here into Binance's payload: trades and depth diffs straight from the
frame; tickers and klines read from the database at most once a second per stream
when the market traded or its ticker changed. Field names and enums follow
Binance's "WebSocket Streams" document (docs/BINANCE_API.md says what differs).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import localcontext
from typing import Any

from django.utils import timezone

from markets.candles import (
    CANDLE_COLUMNS,
    EXACT_PRECISION,
    KLINE_INTERVALS,
    MINUTE,
    Bar,
    candles_fold,
    interval_end,
    interval_start,
    minute_floor,
)
from markets.models import Candle, Market, Trade
from markets.selectors import candle_list

from .render import markets_by_binance_symbol, ms, num
from .selectors import ticker_24h

# The realtime channels (``/ws/v1/`` kinds) each stream kind is made from.
SOURCES = {
    "trade": "trades",
    "depth": "depth",
    "partialDepth": "depth",
    "bookTicker": "depth",
    "ticker": "ticker",
    "miniTicker": "ticker",
    "kline": "trades",
}
# Stream kinds read from the database by the poller rather than translated frame by frame.
POLLED = ("ticker", "miniTicker", "kline")
# Stream kinds made from the process's local copy of the book (``binance_api.stream_book``).
BOOK = ("bookTicker", "partialDepth")
_NAME = re.compile(
    r"^([a-z0-9]{1,40})@(trade|depth(5|10|20)?(?:@100ms)?|ticker|miniTicker|bookTicker|kline_([0-9]{1,2}[mhdwM]))$"
)


@dataclass(frozen=True)
class StreamSpec:
    """One stream a client asked for: ``btcusdt@kline_1m`` is (BTCUSDT, kline, 1m)."""

    name: str
    symbol: str
    kind: str
    interval: str | None = None
    levels: int | None = None

    @property
    def source(self) -> str:
        return SOURCES[self.kind]


def stream_parse(name: Any) -> StreamSpec | None:
    """The stream a name means, or None when it is no stream we serve (market not checked)."""
    if not isinstance(name, str):
        return None
    found = _NAME.match(name)
    if found is None:
        return None
    symbol, kind, levels, interval = found.group(1).upper(), found.group(2), found.group(3), found.group(4)
    if kind.startswith("kline_"):
        if interval not in KLINE_INTERVALS:
            return None
        return StreamSpec(name, symbol, "kline", interval)
    if levels:
        return StreamSpec(name, symbol, "partialDepth", levels=int(levels))
    return StreamSpec(name, symbol, "depth" if kind.startswith("depth") else kind)


def markets_for(symbols: list[str]) -> dict[str, Market]:
    """Binance symbol -> market, for the symbols that are markets (sync: the cached market list)."""
    known = markets_by_binance_symbol()
    return {symbol: known[symbol] for symbol in symbols if symbol in known}


def _event_ms(text: str) -> tuple[dict[str, Any], int]:
    event = json.loads(text)
    return event["data"], event["event_time"]


def _trade_ms(iso: str) -> int:
    return ms(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def trade_payloads(symbol: str, texts: list[str]) -> list[str]:
    """``<symbol>@trade`` events, one per ``trades:`` frame (same ids, price and quantity strings)."""
    out = []
    for text in texts:
        data, event_time = _event_ms(text)
        payload = {
            "e": "trade",
            "E": event_time,
            "s": symbol,
            "t": data["id"],
            "p": data["price"],
            "q": data["quantity"],
            "T": _trade_ms(data["time"]),
            "m": data["taker_side"] == "sell",
            "M": True,
        }
        out.append(dumps(payload))
    return out


def depth_payloads(symbol: str, texts: list[str]) -> list[str]:
    """``depthUpdate`` events: ``U``/``u`` are the diff's first and last book sequence, as ``lastUpdateId`` is."""
    out = []
    for text in texts:
        data, event_time = _event_ms(text)
        payload = {
            "e": "depthUpdate",
            "E": event_time,
            "s": symbol,
            "U": data["first_sequence"],
            "u": data["sequence"],
            "b": data["bids"],
            "a": data["asks"],
        }
        out.append(dumps(payload))
    return out


def polled_payloads(market: Market, symbol: str, specs: list[StreamSpec]) -> dict[str, str]:
    """The current ticker and kline payloads of one market's polled streams (sync: reads the database)."""
    now = timezone.now()
    event_time = ms(now)
    out: dict[str, str] = {}
    tickers: dict[bool, dict[str, Any]] = {}
    for spec in specs:
        if spec.kind in ("ticker", "miniTicker"):
            mini = spec.kind == "miniTicker"
            if mini not in tickers:
                tickers[mini] = ticker_24h(market, now=now, mini=mini)
            out[spec.name] = dumps(_ticker_event(tickers[mini], symbol, event_time, mini=mini))
        elif spec.kind == "kline":
            kline = _kline_event(market, symbol, spec.interval, now)
            if kline is not None:
                out[spec.name] = dumps({"e": "kline", "E": event_time, "s": symbol, "k": kline})
    return out


def _ticker_event(t: dict[str, Any], symbol: str, event_time: int, *, mini: bool) -> dict[str, Any]:
    if mini:
        return {
            "e": "24hrMiniTicker",
            "E": event_time,
            "s": symbol,
            "c": t["lastPrice"],
            "o": t["openPrice"],
            "h": t["highPrice"],
            "l": t["lowPrice"],
            "v": t["volume"],
            "q": t["quoteVolume"],
        }
    return {
        "e": "24hrTicker",
        "E": event_time,
        "s": symbol,
        "p": t["priceChange"],
        "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"],
        "x": t["prevClosePrice"],
        "c": t["lastPrice"],
        "Q": t["lastQty"],
        "b": t["bidPrice"],
        "B": t["bidQty"],
        "a": t["askPrice"],
        "A": t["askQty"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
        "O": t["openTime"],
        "C": t["closeTime"],
        "F": t["firstId"],
        "L": t["lastId"],
        "n": t["count"],
    }


def _kline_event(market: Market, symbol: str, interval: str, now: datetime) -> dict[str, Any] | None:
    """The newest bar of ``interval`` (the current one, or the last that traded), or None before any trade."""
    bar = _current_bar(market, interval, now)
    if bar is None:
        # No trade in the current interval: the last bar that had one (closed).
        bars = candle_list(market=market, interval=interval, limit=1)
        if not bars:
            return None
        bar = bars[0]
    end = interval_end(bar.open_time, interval)
    # Two index lookups (market, created_at), bounded however long the interval.
    window = Trade.objects.filter(market=market, created_at__gte=bar.open_time, created_at__lt=end)
    first = window.order_by("created_at", "id").values_list("id", flat=True).first()
    last = window.order_by("-created_at", "-id").values_list("id", flat=True).first()
    return {
        "t": ms(bar.open_time),
        "T": ms(end) - 1,
        "s": symbol,
        "i": interval,
        "f": first if first is not None else -1,
        "L": last if last is not None else -1,
        "o": num(bar.open),
        "c": num(bar.close),
        "h": num(bar.high),
        "l": num(bar.low),
        "v": num(bar.volume),
        "n": bar.trade_count,
        "x": end <= now,
        "q": num(bar.quote_volume),
        "V": "0",
        "Q": "0",
        "B": "0",
    }


# (market id, interval) -> (bucket start, the bucket's minutes before ``cut`` folded, cut).
# Minutes that ended are final, so each poll reads only the last two minutes' rows, not a
# month of them for ``1M`` (the poller runs in Django's one sync thread).
_prefixes: dict[tuple[int, str], tuple[datetime, Bar | None, datetime]] = {}


def _current_bar(market: Market, interval: str, now: datetime) -> Bar | None:
    """The bar of the interval ``now`` is in, or None if it has no trade yet."""
    start = interval_start(now, interval)
    cut = max(start, minute_floor(now) - MINUTE)
    key = (market.pk, interval)
    cached = _prefixes.get(key)
    if cached is None or cached[0] != start:
        cached = (start, _fold_range(market, interval, start, start), start)
    bucket, prefix, done = cached
    if done < cut:
        prefix = _bar_join(prefix, _fold_range(market, interval, done, cut))
    _prefixes[key] = (bucket, prefix, cut)
    return _bar_join(prefix, _fold_range(market, interval, cut, interval_end(start, interval)))


def _fold_range(market: Market, interval: str, first: datetime, end: datetime) -> Bar | None:
    if first >= end:
        return None
    rows = (
        Candle.objects.filter(market=market, open_time__gte=first, open_time__lt=end)
        .order_by("open_time")
        .values_list(*CANDLE_COLUMNS)
    )
    bars = candles_fold(rows.iterator(), interval=interval, limit=1, newest_first=False)
    return bars[0] if bars else None


def _bar_join(first: Bar | None, then: Bar | None) -> Bar | None:
    """Two consecutive parts of one interval's bar as one."""
    if first is None or then is None:
        return first or then
    with localcontext(prec=EXACT_PRECISION):
        return Bar(
            first.open_time,
            first.open,
            max(first.high, then.high),
            min(first.low, then.low),
            then.close,
            first.volume + then.volume,
            first.quote_volume + then.quote_volume,
            first.trade_count + then.trade_count,
        )


def kline_open_ms(interval: str, now: datetime) -> int:
    """When the current ``interval`` bucket opened: a kline stream is due again when it changes."""
    return ms(interval_start(now, interval))


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def envelope(stream: str, payload: str) -> str:
    """The combined endpoint's ``{"stream": ..., "data": ...}`` around an already encoded payload."""
    return f'{{"stream":{json.dumps(stream)},"data":{payload}}}'
