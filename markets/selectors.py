"""Reads of public market data: currencies, markets, depth, recent trades, candles, tickers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from exchange_site.errors import NotFound
from exchange_site.money import fmt

from .candles import CANDLE_COLUMNS, EXACT_PRECISION, Bar, CandleRow, candles_fold, interval_end, interval_start
from .models import BookSnapshot, Candle, Currency, Market, Trade
from .selectors_cached import json_bytes, markets_by_symbol, ticker_bodies_cached

TICKER_WINDOW = timedelta(hours=24)
SYMBOL_MAX_LENGTH = Market._meta.get_field("symbol").max_length
# 1-minute rows read per query while folding candles.
_CANDLE_CHUNK = 2000


def currency_list() -> QuerySet[Currency]:
    return Currency.objects.order_by("code")


def market_list() -> QuerySet[Market]:
    return Market.objects.select_related("base", "quote").order_by("symbol")


def symbol_valid(symbol: str) -> bool:
    """Whether ``symbol`` could name a market (PostgreSQL refuses NUL in text outright)."""
    return 0 < len(symbol) <= SYMBOL_MAX_LENGTH and "\x00" not in symbol


def market_get(*, symbol: str) -> Market:
    """Return the market (from the process cache of markets), or raise ``NotFound`` (404 ``not_found``)."""
    market = markets_by_symbol().get(symbol) if symbol_valid(symbol) else None
    if market is None:
        raise NotFound(f"Unknown market {symbol!r}.", details={"symbol": symbol})
    return market


def depth_get(*, market: Market, limit: int) -> dict[str, Any]:
    """Return the committed book as of its sequence, ``limit`` levels a side.

    Served from the snapshot the matcher writes in each batch's transaction, so
    the sequence matches the WebSocket diffs that follow it. With no snapshot yet
    the book is empty as of the market's last sequence.
    """
    snapshot = BookSnapshot.objects.filter(market=market).first()
    if snapshot is None:
        # Read afresh: the market row may come from the process cache.
        sequence = Market.objects.filter(pk=market.pk).values_list("last_sequence", flat=True).first()
        return {"symbol": market.symbol, "sequence": sequence or 0, "bids": [], "asks": []}
    return {
        "symbol": market.symbol,
        "sequence": snapshot.sequence,
        "bids": snapshot.bids[:limit],
        "asks": snapshot.asks[:limit],
    }


def trade_list_recent(*, market: Market, limit: int) -> list[Trade]:
    """Return the market's latest trades, newest first."""
    return list(Trade.objects.filter(market=market).order_by("-id")[:limit])


def candle_list(
    *,
    market: Market,
    interval: str,
    limit: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Bar]:
    """Return up to ``limit`` candles of ``interval``, ascending by open time.

    A candle is included when its open time lies in ``[start, end]``. Without
    ``start`` these are the most recent candles (up to ``end``); with it, the first
    ones from ``start`` on. Intervals with no trade have no candle.
    """
    rows = Candle.objects.filter(market=market)
    if start is not None:
        first = interval_start(start, interval)
        rows = rows.filter(open_time__gte=first if first == start else interval_end(first, interval))
    if end is not None:
        rows = rows.filter(open_time__lt=interval_end(interval_start(end, interval), interval))
    newest_first = start is None
    return candles_fold(
        _stream(rows, newest_first=newest_first), interval=interval, limit=limit, newest_first=newest_first
    )


def _stream(rows: QuerySet[Candle], *, newest_first: bool) -> Iterator[CandleRow]:
    """Yield 1-minute rows in keyset pages, so folding can stop early without loading them all."""
    order = "-open_time" if newest_first else "open_time"
    after: datetime | None = None
    while True:
        page = rows
        if after is not None:
            page = page.filter(open_time__lt=after) if newest_first else page.filter(open_time__gt=after)
        chunk = list(page.order_by(order).values_list(*CANDLE_COLUMNS)[:_CANDLE_CHUNK])
        yield from chunk
        if len(chunk) < _CANDLE_CHUNK:
            return
        after = chunk[-1][0]


def ticker_get(*, market: Market, now: datetime | None = None) -> dict[str, Any]:
    """Return the market's rolling 24 h ticker, JSON-ready (decimals as strings).

    Shared by the REST endpoint and the WebSocket ``ticker:`` channel so both send
    the same object.
    """
    now = now or timezone.now()
    window = list(
        Candle.objects.filter(market=market, open_time__gte=now - TICKER_WINDOW)
        .order_by("open_time")
        .values_list(*CANDLE_COLUMNS)
    )
    last_close = window[-1][4] if window else _last_close(market)
    snapshot = BookSnapshot.objects.filter(market=market).values_list("bids", "asks").first()
    return _ticker(market, window, last_close, snapshot)


def ticker_list(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Return every market's ticker in three queries, ordered by symbol."""
    now = now or timezone.now()
    last = Candle.objects.filter(market=OuterRef("pk")).order_by("-open_time").values("close")[:1]
    markets = list(market_list().annotate(last_close=Subquery(last)))
    windows: dict[int, list[CandleRow]] = {m.pk: [] for m in markets}
    rows = (
        Candle.objects.filter(open_time__gte=now - TICKER_WINDOW)
        .order_by("market_id", "open_time")
        .values_list("market_id", *CANDLE_COLUMNS)
    )
    for market_id, *row in rows:
        windows.setdefault(market_id, []).append(tuple(row))
    snapshots = {
        market_id: (bids, asks)
        for market_id, bids, asks in BookSnapshot.objects.values_list("market_id", "bids", "asks")
    }
    return [_ticker(m, windows[m.pk], _money(m.last_close), snapshots.get(m.pk)) for m in markets]


def tickers_body() -> bytes:
    """Every market's ticker as the API's JSON array, by symbol: cached objects, the database for the rest."""
    markets = markets_by_symbol()
    bodies = ticker_bodies_cached(symbols=list(markets))
    missing = [m for symbol, m in markets.items() if symbol not in bodies]
    if len(missing) == 1:
        bodies[missing[0].symbol] = json_bytes(ticker_get(market=missing[0]))
    elif missing:
        for ticker in ticker_list():
            bodies.setdefault(ticker["symbol"], json_bytes(ticker))
    return b"[" + b",".join(bodies[symbol] for symbol in markets if symbol in bodies) + b"]"


def _last_close(market: Market) -> Decimal | None:
    return Candle.objects.filter(market=market).order_by("-open_time").values_list("close", flat=True).first()


def _money(value: Any) -> Decimal | None:
    # A Subquery over a money column may come back as text on SQLite.
    return None if value is None else Decimal(value)


def _ticker(
    market: Market,
    window: list[CandleRow],
    last_close: Decimal | None,
    snapshot: tuple[list, list] | None,
) -> dict[str, Any]:
    bids, asks = snapshot if snapshot is not None else ([], [])
    figures = None
    if window:
        with localcontext(prec=EXACT_PRECISION):
            figures = TickerFigures(
                open=window[0][1],
                high=max(row[2] for row in window),
                low=min(row[3] for row in window),
                close=window[-1][4],
                volume=sum((row[5] for row in window), Decimal(0)),
                quote_volume=sum((row[6] for row in window), Decimal(0)),
            )
    return ticker_build(
        symbol=market.symbol,
        last_close=last_close,
        figures=figures,
        best_bid=bids[0][0] if bids else None,
        best_ask=asks[0][0] if asks else None,
    )


@dataclass(slots=True)
class TickerFigures:
    """The 24 h window's figures: first open, extremes, last close and volumes."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal


def ticker_build(
    *,
    symbol: str,
    last_close: Decimal | None,
    figures: TickerFigures | None,
    best_bid: str | None,
    best_ask: str | None,
) -> dict[str, Any]:
    """Format a ticker; shared by the database read and the matcher's running figures."""
    ticker: dict[str, Any] = {
        "symbol": symbol,
        "last_price": fmt(last_close),
        "open_price": None,
        "high": None,
        "low": None,
        "volume": "0",
        "quote_volume": "0",
        "change_percent": "0",
        "best_bid": best_bid,
        "best_ask": best_ask,
    }
    if figures is None:
        return ticker
    open_price = figures.open
    last_price = figures.close
    with localcontext(prec=EXACT_PRECISION):
        change = Decimal(0)
        if open_price:
            change = (last_price - open_price) / open_price * 100
        # copy_abs: a tiny fall rounds to "0.00", not "-0.00".
        change = change.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if change.is_zero():
            change = change.copy_abs()
        ticker.update(
            open_price=fmt(open_price),
            high=fmt(figures.high),
            low=fmt(figures.low),
            volume=fmt(figures.volume),
            quote_volume=fmt(figures.quote_volume),
            change_percent=format(change, "f"),
        )
    return ticker
