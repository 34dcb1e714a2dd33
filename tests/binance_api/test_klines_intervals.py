"""Every Binance kline interval on /api/v3/klines and uiKlines, folded from the 1-minute candles; stream names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from binance_api import streams
from binance_api.render import ms
from binance_api.streams import StreamSpec, envelope, polled_payloads, stream_parse
from markets.candles import KLINE_INTERVALS, MINUTE, interval_end, interval_start, minute_floor
from markets.models import Candle

from .helpers import Bot, assert_binance_error

MINUTES = [
    datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 29, 23, 59, tzinfo=UTC),  # a Sunday
    datetime(2026, 11, 30, 0, 0, tzinfo=UTC),  # the Monday after
    datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    datetime(2026, 12, 1, 10, 20, tzinfo=UTC),
    datetime(2026, 12, 3, 23, 59, tzinfo=UTC),
]


def public(path: str, **params):
    return Bot(api_key="").call("GET", path, params, signed=False)


@pytest.fixture
def candles(market):
    for i, minute in enumerate(MINUTES):
        price = Decimal(30000 + 10 * i)
        Candle.objects.create(
            market=market,
            open_time=minute,
            open=price,
            high=price + 5,
            low=price - 5,
            close=price + 1,
            volume=Decimal("0.5"),
            quote_volume=price / 2,
            trade_count=2,
        )
    return market


def test_weeks_start_on_monday_and_months_on_the_first():
    thursday = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
    assert interval_start(thursday, "1w") == datetime(2026, 11, 30, tzinfo=UTC)
    assert interval_start(datetime(2026, 11, 30, tzinfo=UTC), "1w") == datetime(2026, 11, 30, tzinfo=UTC)
    assert interval_start(thursday, "1M") == datetime(2026, 12, 1, tzinfo=UTC)
    assert interval_end(datetime(2026, 12, 1, tzinfo=UTC), "1M") == datetime(2027, 1, 1, tzinfo=UTC)
    assert interval_end(datetime(2026, 2, 1, tzinfo=UTC), "1M") == datetime(2026, 3, 1, tzinfo=UTC)
    assert interval_start(thursday, "6h") == datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert interval_start(thursday, "3m") == datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
    assert interval_start(datetime(2026, 12, 3, 15, 32, tzinfo=UTC), "3m") == datetime(2026, 12, 3, 15, 30, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("interval", list(KLINE_INTERVALS))
def test_every_interval_folds_the_minutes_into_aligned_bars(candles, interval):
    rows = public("klines", symbol="BTCUSDT", interval=interval).json()
    buckets: dict[datetime, list[int]] = {}
    for i, minute in enumerate(MINUTES):
        buckets.setdefault(interval_start(minute, interval), []).append(i)
    assert [r[0] for r in rows] == [ms(start) for start in sorted(buckets)]
    for row, start in zip(rows, sorted(buckets), strict=True):
        members = buckets[start]
        assert row[6] == ms(interval_end(start, interval)) - 1
        assert row[1] == str(30000 + 10 * members[0])  # the first minute's open
        assert row[4] == str(30000 + 10 * members[-1] + 1)  # the last minute's close
        assert Decimal(row[5]) == Decimal("0.5") * len(members)
        assert row[8] == 2 * len(members)
    assert public("uiKlines", symbol="BTCUSDT", interval=interval).json() == rows


@pytest.mark.django_db
def test_weeks_and_months_by_time_range(candles):
    weeks = public("klines", symbol="BTCUSDT", interval="1w").json()
    assert [datetime.fromtimestamp(r[0] / 1000, UTC).date().isoformat() for r in weeks] == [
        "2026-10-26",
        "2026-11-23",
        "2026-11-30",
    ]
    months = public("klines", symbol="BTCUSDT", interval="1M").json()
    assert [r[0] for r in months] == [ms(datetime(2026, m, 1, tzinfo=UTC)) for m in (10, 11, 12)]
    assert months[1][6] == ms(datetime(2026, 12, 1, tzinfo=UTC)) - 1
    assert (months[1][5], months[2][5], months[2][8]) == ("1", "1.5", 6)
    # A bar is in when its open time is in [startTime, endTime]: mid-November starts with December.
    mid = ms(datetime(2026, 11, 15, tzinfo=UTC))
    assert [r[0] for r in public("klines", symbol="BTCUSDT", interval="1M", startTime=mid).json()] == [months[2][0]]
    assert [r[0] for r in public("klines", symbol="BTCUSDT", interval="1M", endTime=mid).json()] == [
        months[0][0],
        months[1][0],
    ]
    assert public("klines", symbol="BTCUSDT", interval="1M", limit=1).json() == months[-1:]


@pytest.mark.django_db
def test_intervals_we_cannot_serve_and_time_zones_are_refused(candles):
    for interval in ("1s", "2m", "1y", "1W"):
        assert_binance_error(public("klines", symbol="BTCUSDT", interval=interval), -1120, 400)
    assert_binance_error(public("klines", symbol="BTCUSDT", interval="1h", timeZone="+08:00"), -1100, 400)
    assert public("klines", symbol="BTCUSDT", interval="1h", timeZone="0").status_code == 200
    assert_binance_error(public("uiKlines", symbol="BTCUSDT"), -1102, 400)


def test_stream_names_as_binance_spells_them():
    assert stream_parse("btcusdt@trade") == StreamSpec("btcusdt@trade", "BTCUSDT", "trade")
    assert stream_parse("btcusdt@depth@100ms") == StreamSpec("btcusdt@depth@100ms", "BTCUSDT", "depth")
    assert stream_parse("btcusdt@kline_1M") == StreamSpec("btcusdt@kline_1M", "BTCUSDT", "kline", "1M")
    depth20 = StreamSpec("btcusdt@depth20@100ms", "BTCUSDT", "partialDepth", levels=20)
    assert stream_parse("btcusdt@depth20@100ms") == depth20
    assert stream_parse("btcusdt@depth5").levels == 5
    assert stream_parse("btcusdt@bookTicker").source == "depth"
    assert stream_parse("btcusdt@miniTicker").source == "ticker"
    assert stream_parse("btcusdt@kline_1h").source == "trades"
    for bad in (
        "BTCUSDT@trade",
        "btcusdt@Trade",
        "btcusdt@kline_1s",
        "btcusdt@kline_7m",
        "btcusdt@depth@500ms",
        "btcusdt@depth15",
        "btcusdt@depth5@1000ms",
        "btcusdt@aggTrade",
        "btcusdt@trade ",
        "@trade",
        "0",
        7,
        None,
    ):
        assert stream_parse(bad) is None, bad
    assert envelope("btcusdt@trade", '{"e":"trade"}') == '{"stream":"btcusdt@trade","data":{"e":"trade"}}'


def test_interval_lengths_cover_binance_list():
    assert list(KLINE_INTERVALS) == "1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M".split()
    assert KLINE_INTERVALS["1w"] == timedelta(weeks=1)


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["1m", "1h", "1w", "1M"])
def test_the_kline_stream_bar_equals_klines_as_minutes_come(market, interval):
    """The stream's poller folds the finished minutes once, then re-reads only the last two."""
    streams._prefixes.clear()  # another test's market may have had the same id
    now = timezone.now()
    start = interval_start(now, interval)
    spec = stream_parse(f"btcusdt@kline_{interval}")

    def add(minutes_ago: int, price: int) -> None:
        minute = minute_floor(now) - minutes_ago * MINUTE
        if minute >= start:
            Candle.objects.create(
                market=market,
                open_time=minute,
                open=Decimal(price),
                high=Decimal(price + 2),
                low=Decimal(price - 2),
                close=Decimal(price + 1),
                volume=Decimal("0.25"),
                quote_volume=Decimal(price) / 4,
                trade_count=1,
            )

    def check() -> dict:
        event = json.loads(polled_payloads(market, "BTCUSDT", [spec])[spec.name])
        row = public("klines", symbol="BTCUSDT", interval=interval).json()[-1]
        k = event["k"]
        assert [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"]] == row[:9]
        assert (event["e"], event["s"], k["i"], k["x"]) == ("kline", "BTCUSDT", interval, False)
        return k

    add(5, 30000)
    add(3, 30010)
    if Candle.objects.filter(market=market).exists():  # not for 1m: those minutes are past
        check()  # folds the finished minutes
    add(1, 30020)
    add(0, 29990)
    check()  # the last two minutes are read again
    # More trades in the current minute: the stream sees them.
    Candle.objects.filter(market=market, open_time=minute_floor(now)).update(close=Decimal(31000), high=Decimal(31000))
    assert (check()["c"], check()["h"]) == ("31000", "31000")
