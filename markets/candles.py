"""One-minute candles: the write side used by the matcher, and interval aggregation.

Only minutes with trades have a row. Longer intervals are folded from those rows in
Python (money is never aggregated in SQL: on SQLite it is stored as text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from exchange_site.db import rows_update

from .models import Candle

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# Interval name -> length. Buckets are aligned to the Unix epoch, which puts 1d buckets
# on UTC midnight (and 4h buckets on 00:00, 04:00, ... UTC).
INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}

# Every interval Binance's klines take but ``1s`` (only minutes are recorded). ``None``:
# calendar months. Weeks start on Monday 00:00 UTC, as Binance's do; the others are
# epoch-aligned like ``INTERVALS``.
KLINE_INTERVALS: dict[str, timedelta | None] = {
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "6h": timedelta(hours=6),
    "8h": timedelta(hours=8),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "1w": timedelta(weeks=1),
    "1M": None,
}
WEEK = timedelta(weeks=1)
# 1970-01-05 was the first Monday after the epoch (a Thursday).
MONDAY = timedelta(days=4)

_UPDATED_FIELDS = ["high", "low", "close", "volume", "quote_volume", "trade_count"]

# Sums of 36-digit money exceed the default 28-digit context; keep them exact.
EXACT_PRECISION = 80


def minute_floor(moment: datetime) -> datetime:
    """Return the UTC minute containing ``moment`` (which must be timezone-aware)."""
    return bucket_start(moment, MINUTE)


def bucket_start(moment: datetime, length: timedelta) -> datetime:
    """Return the start of the epoch-aligned bucket of ``length`` containing ``moment``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("candle times must be timezone-aware")
    offset = (moment - EPOCH) % length
    return (moment - offset).astimezone(UTC)


def interval_start(moment: datetime, interval: str) -> datetime:
    """The start of the ``interval`` bucket (a key of ``KLINE_INTERVALS``) containing ``moment``."""
    length = KLINE_INTERVALS[interval]
    if length is None:
        first = bucket_start(moment, timedelta(days=1))
        return first.replace(day=1)
    if length == WEEK:
        return bucket_start(moment - MONDAY, WEEK) + MONDAY
    return bucket_start(moment, length)


def interval_end(start: datetime, interval: str) -> datetime:
    """Where the bucket starting at ``start`` ends (the next one's start)."""
    length = KLINE_INTERVALS[interval]
    if length is not None:
        return start + length
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def candles_record(*, market_id: int, fills: Sequence[tuple[datetime, Decimal, Decimal, Decimal]]) -> None:
    """Fold fills ``(time, price, quantity, quote_quantity)``, in trade order, into 1-minute candles.

    Called by the matcher inside its batch transaction (one matcher per market, so no
    one else writes these rows meanwhile). Costs one SELECT, one bulk INSERT and one
    bulk UPDATE however many fills the batch has.
    """
    if not fills:
        return
    minutes = {minute_floor(moment) for moment, _, _, _ in fills}
    existing = {c.open_time: c for c in Candle.objects.filter(market_id=market_id, open_time__in=minutes)}
    created: dict[datetime, Candle] = {}
    changed: dict[datetime, Candle] = {}
    with localcontext(prec=EXACT_PRECISION):
        _merge(market_id, fills, existing, created, changed)
    if created:
        Candle.objects.bulk_create(created.values())
    if changed:
        rows_update(Candle, list(changed.values()), _UPDATED_FIELDS)


def _merge(
    market_id: int,
    fills: Sequence[tuple[datetime, Decimal, Decimal, Decimal]],
    existing: dict[datetime, Candle],
    created: dict[datetime, Candle],
    changed: dict[datetime, Candle],
) -> None:
    for moment, price, quantity, quote_quantity in fills:
        minute = minute_floor(moment)
        candle = existing.get(minute)
        if candle is None:
            candle = created.get(minute)
        if candle is None:
            candle = Candle(
                market_id=market_id,
                open_time=minute,
                open=price,
                high=price,
                low=price,
                close=price,
                volume=Decimal(0),
                quote_volume=Decimal(0),
                trade_count=0,
            )
            created[minute] = candle
        elif minute not in created:
            changed[minute] = candle
        candle.high = max(candle.high, price)
        candle.low = min(candle.low, price)
        candle.close = price
        candle.volume += quantity
        candle.quote_volume += quote_quantity
        candle.trade_count += 1


@dataclass(slots=True)
class Bar:
    """One OHLCV candle of any interval."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trade_count: int


# A 1-minute row as loaded by ``CANDLE_COLUMNS``.
CandleRow = tuple[datetime, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, int]
CANDLE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "quote_volume", "trade_count")


def candles_fold(rows: Iterable[CandleRow], *, interval: str, limit: int, newest_first: bool) -> list[Bar]:
    """Fold 1-minute rows (sorted by open_time, in the stated direction) into bars of ``length``.

    Stops reading ``rows`` as soon as ``limit`` bars are complete, so the caller may
    pass a lazy stream. Returns the bars in ascending open_time.
    """
    with localcontext(prec=EXACT_PRECISION):
        bars = _fold(rows, interval=interval, limit=limit, newest_first=newest_first)
    if newest_first:
        bars.reverse()
    return bars


def _fold(rows: Iterable[CandleRow], *, interval: str, limit: int, newest_first: bool) -> list[Bar]:
    bars: list[Bar] = []
    current: Bar | None = None
    for open_time, open_, high, low, close, volume, quote_volume, count in rows:
        start = interval_start(open_time, interval)
        if current is None or start != current.open_time:
            if len(bars) == limit:
                break
            current = Bar(start, open_, high, low, close, Decimal(0), Decimal(0), 0)
            bars.append(current)
        elif newest_first:
            # Walking back in time: this minute is earlier, so it holds the bar's open.
            current.open = open_
        else:
            current.close = close
        current.high = max(current.high, high)
        current.low = min(current.low, low)
        current.volume += volume
        current.quote_volume += quote_volume
        current.trade_count += count
    return bars
