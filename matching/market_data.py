"""Publish each market's REST market data to the cache after every committed batch.

The depth snapshot, the recent trades and the 24 h ticker are stored as the exact
bytes the API sends (``markets.selectors_cached`` reads them), tagged with the batch's
sequence. An entry already holding a newer sequence is never replaced (a matcher that
lost its market must not overwrite its successor).

The ticker is kept from running figures of the 24 h window of 1-minute candles, held
in this process (one matcher per market): each batch adds its trades and drops the
minutes that left the window, so a batch costs the same however busy the last day
was. The window is read from the database once, when the market's first batch here
commits (and again after any gap in sequences). Because the window also moves with
time alone, each ticker entry says until when it is exact; readers treat it as a miss
after that.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from exchange_site.events import BatchCommitted
from markets.candles import CANDLE_COLUMNS, EXACT_PRECISION, minute_floor
from markets.models import Candle, Market, Trade
from markets.selectors import TICKER_WINDOW, TickerFigures, ticker_build
from markets.selectors_cached import (
    DEPTH_DEFAULT,
    DEPTH_LEVELS,
    TRADES_DEFAULT,
    TRADES_KEPT,
    depth_default_key,
    depth_key,
    json_bytes,
    ticker_key,
    trades_default_key,
    trades_key,
)
from markets.serializers_public import public_trade_out

from .worker import BatchResult, MarketMatcher

logger = logging.getLogger(__name__)

# An empty window stays exact until the next trade, which comes with a batch.
_FOREVER = 2.0**62


@dataclass(slots=True)
class _Window:
    """Running figures of one market's last 24 h of 1-minute candles."""

    sequence: int
    # [open_time, open, high, low, close, volume, quote_volume], oldest first
    minutes: deque = field(default_factory=deque)
    last_close: Decimal | None = None
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    high: Decimal | None = None
    low: Decimal | None = None

    def add(self, moment: datetime, price: Decimal, quantity: Decimal, quote: Decimal) -> None:
        minute = minute_floor(moment)
        row = None
        for candidate in reversed(self.minutes):
            if candidate[0] <= minute:
                row = candidate if candidate[0] == minute else None
                break
        if row is None:
            row = [minute, price, price, price, price, Decimal(0), Decimal(0)]
            self._insert(row)
        row[2] = max(row[2], price)
        row[3] = min(row[3], price)
        row[4] = price
        row[5] += quantity
        row[6] += quote
        self.volume += quantity
        self.quote_volume += quote
        self.high = price if self.high is None else max(self.high, price)
        self.low = price if self.low is None else min(self.low, price)
        if self.minutes[-1] is row:
            self.last_close = price

    def _insert(self, row: list) -> None:
        # Nearly always at the end; a clock stepping back may put it before.
        index = len(self.minutes)
        while index and self.minutes[index - 1][0] > row[0]:
            index -= 1
        self.minutes.insert(index, row)

    def expire(self, now: datetime) -> None:
        cutoff = now - TICKER_WINDOW
        extreme_gone = False
        while self.minutes and self.minutes[0][0] < cutoff:
            row = self.minutes.popleft()
            self.volume -= row[5]
            self.quote_volume -= row[6]
            extreme_gone = extreme_gone or row[2] == self.high or row[3] == self.low
        if not self.minutes:
            self.high = self.low = None
            self.volume = self.quote_volume = Decimal(0)
        elif extreme_gone:
            self.high = max(row[2] for row in self.minutes)
            self.low = min(row[3] for row in self.minutes)

    def figures(self) -> TickerFigures | None:
        if not self.minutes:
            return None
        return TickerFigures(
            open=self.minutes[0][1],
            high=self.high,
            low=self.low,
            close=self.minutes[-1][4],
            volume=self.volume,
            quote_volume=self.quote_volume,
        )

    def valid_until(self) -> float:
        """Epoch seconds until which the window holds exactly what the database would give."""
        if not self.minutes:
            return _FOREVER
        return (self.minutes[0][0] + TICKER_WINDOW).timestamp()


_windows: dict[int, _Window] = {}


def _window_load(market_id: int, sequence: int, now: datetime) -> _Window:
    window = _Window(sequence=sequence)
    rows = (
        Candle.objects.filter(market_id=market_id, open_time__gte=now - TICKER_WINDOW)
        .order_by("open_time")
        .values_list(*CANDLE_COLUMNS)
    )
    for open_time, open_, high, low, close, volume, quote_volume, _count in rows:
        window.minutes.append([open_time, open_, high, low, close, volume, quote_volume])
    with localcontext(prec=EXACT_PRECISION):
        if window.minutes:
            window.volume = sum((row[5] for row in window.minutes), Decimal(0))
            window.quote_volume = sum((row[6] for row in window.minutes), Decimal(0))
            window.high = max(row[2] for row in window.minutes)
            window.low = min(row[3] for row in window.minutes)
            window.last_close = window.minutes[-1][4]
        else:
            window.last_close = (
                Candle.objects.filter(market_id=market_id)
                .order_by("-open_time")
                .values_list("close", flat=True)
                .first()
            )
    return window


def _trade_rows(trades: list[Trade]) -> list[dict[str, Any]]:
    """The newest ``TRADES_KEPT`` of ``trades`` (oldest first) as the recent-trades endpoint renders them, newest first.

    Only what the cache keeps is rendered: a batch may hold thousands of trades.
    """
    return [public_trade_out(trade) for trade in reversed(trades[-TRADES_KEPT:])]


def _trades_recent(market_id: int) -> list[dict[str, Any]]:
    return _trade_rows(list(reversed(Trade.objects.filter(market_id=market_id).order_by("-id")[:TRADES_KEPT])))


# market id -> (sequence, valid until (epoch s), ticker) as of the last batch seen here.
_latest: dict[int, tuple[int, float, dict[str, Any]]] = {}


def _ticker_prepare(
    *,
    market: Market,
    first_sequence: int,
    sequence: int,
    bids: list[list[str]],
    asks: list[list[str]],
    trades: list[Trade] | None,
    now: datetime,
) -> tuple[int, float, dict[str, Any]]:
    """Move the market's 24 h window to this batch and build its ticker; ``trades`` None reloads."""
    window = _windows.get(market.pk)
    with localcontext(prec=EXACT_PRECISION):
        if window is None or trades is None or window.sequence != first_sequence - 1:
            # The database already holds this batch's candles.
            window = _window_load(market.pk, sequence, now)
        else:
            for trade in trades:
                window.add(trade.created_at, trade.price, trade.quantity, trade.quote_quantity)
            window.sequence = sequence
        window.expire(now)
        _windows[market.pk] = window
        ticker = ticker_build(
            symbol=market.symbol,
            last_close=window.last_close,
            figures=window.figures(),
            best_bid=bids[0][0] if bids else None,
            best_ask=asks[0][0] if asks else None,
        )
    prepared = (sequence, window.valid_until(), ticker)
    _latest[market.pk] = prepared
    return prepared


def state_clear() -> None:
    """Forget every market's running figures (the next batch reloads them from the database)."""
    _windows.clear()
    _latest.clear()


def ticker_latest(*, market_id: int) -> dict[str, Any] | None:
    """The ticker this process built at the market's last batch, while still exact; else None."""
    entry = _latest.get(market_id)
    if entry is None or time.time() > entry[1]:
        return None
    return entry[2]


def _publish(
    *,
    market: Market,
    first_sequence: int,
    sequence: int,
    bids: list[list[str]],
    asks: list[list[str]],
    trades: list[Trade] | None,
    now: datetime,
) -> None:
    """Write the market's entries as of ``sequence``; ``trades`` None means read them afresh."""
    symbol = market.symbol
    current = cache.get_many([depth_key(symbol), trades_key(symbol), trades_default_key(symbol)])
    depth_now = current.get(depth_key(symbol))
    if depth_now is not None and depth_now[0] > sequence:
        logger.warning("market %s: cache holds sequence %d > %d; not replaced", symbol, depth_now[0], sequence)
        return

    entries: dict[str, Any] = {}
    trades_now = current.get(trades_key(symbol))
    if trades_now is not None and trades_now[0] == first_sequence - 1 and trades is not None:
        rows = trades_now[1]
        if trades:
            if any(t.pk is None for t in trades):
                rows = _trades_recent(market.pk)
            else:
                new = _trade_rows(trades)
                ids = {row["id"] for row in new}
                rows = (new + [row for row in rows if row["id"] not in ids])[:TRADES_KEPT]
    else:
        rows = _trades_recent(market.pk)
    entries[trades_key(symbol)] = (sequence, rows)
    body_now = current.get(trades_default_key(symbol))
    if trades_now is not None and rows is trades_now[1] and body_now is not None and body_now[0] == trades_now[0]:
        body = body_now[1]  # no new trade: the rendered list stands
    else:
        body = json_bytes(rows[:TRADES_DEFAULT])
    entries[trades_default_key(symbol)] = (sequence, body)

    entries[depth_key(symbol)] = (sequence, bids[:DEPTH_LEVELS], asks[:DEPTH_LEVELS])
    depth = {"symbol": symbol, "sequence": sequence, "bids": bids[:DEPTH_DEFAULT], "asks": asks[:DEPTH_DEFAULT]}
    entries[depth_default_key(symbol)] = (sequence, json_bytes(depth))

    prepared = _latest.get(market.pk)
    if prepared is None or prepared[0] != sequence or trades is None:
        prepared = _ticker_prepare(
            market=market,
            first_sequence=first_sequence,
            sequence=sequence,
            bids=bids,
            asks=asks,
            trades=trades,
            now=now,
        )
    _, valid_until, ticker = prepared
    entries[ticker_key(symbol)] = (valid_until, json_bytes(ticker))
    cache.set_many(entries, timeout=None)


def _forget(market: Market) -> None:
    """After a failure, leave nothing that could be wrong: readers fall back to the database."""
    _windows.pop(market.pk, None)
    _latest.pop(market.pk, None)
    try:
        symbol = market.symbol
        keys = [depth_key(symbol), depth_default_key(symbol), trades_key(symbol), trades_default_key(symbol)]
        cache.delete_many([*keys, ticker_key(symbol)])
    except Exception:  # the cache is down: nothing to forget there either
        logger.warning("market %s: could not drop its cached market data", market.symbol, exc_info=True)


def _batch_figures(result: BatchCommitted | BatchResult) -> dict[str, Any]:
    """What the ticker and the cache writers take from a committed batch."""
    return {
        "market": result.market,
        "first_sequence": result.first_sequence,
        "sequence": result.sequence,
        "bids": result.book_bids,
        "asks": result.book_asks,
        "trades": result.trades,
        "now": result.committed_at or timezone.now(),
    }


def market_data_prepare(result: BatchCommitted) -> None:
    """Stage ``PREPARE`` of a batch: its ticker in memory (no I/O), for the WebSocket publisher too."""
    try:
        _ticker_prepare(**_batch_figures(result))
    except Exception:
        _windows.pop(result.market.pk, None)
        _latest.pop(result.market.pk, None)
        raise


def market_data_publish(result: BatchCommitted) -> None:
    """Stage ``REACT`` of a batch: publish its depth, trades and ticker to the cache."""
    try:
        _publish(**_batch_figures(result))
    except Exception:
        _forget(result.market)
        raise


def market_data_warm(matcher: MarketMatcher) -> None:
    """A matcher started (``runner``): publish the rebuilt book, the recent trades and the ticker."""
    bids, asks = matcher.book.depth(DEPTH_LEVELS)
    _windows.pop(matcher.market_id, None)
    _latest.pop(matcher.market_id, None)
    try:
        _publish(
            market=matcher.market,
            first_sequence=matcher.sequence + 1,
            sequence=matcher.sequence,
            bids=matcher.levels_text(bids),
            asks=matcher.levels_text(asks),
            trades=None,
            now=timezone.now(),
        )
    except Exception:
        _forget(matcher.market)
        raise
