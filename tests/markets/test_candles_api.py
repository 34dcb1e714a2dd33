"""GET /api/v1/markets/{symbol}/candles: intervals folded from 1-minute candles."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils.dateparse import parse_datetime

from markets.models import Candle
from tests.assertions import assert_error
from tests.markets.data_helpers import make_candle

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 5, 4, tzinfo=UTC)
URL = "/api/v1/markets/BTC-USDT/candles"
FIELDS = {"open_time", "open", "high", "low", "close", "volume", "quote_volume", "trade_count"}


def at(hours: int = 0, minutes: int = 0, days: int = 0) -> datetime:
    return DAY + timedelta(days=days, hours=hours, minutes=minutes)


def get(api, **params) -> list[dict]:
    response = api.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def times(body: list[dict]) -> list[datetime]:
    return [parse_datetime(c["open_time"]) for c in body]


def test_one_minute_candles_come_back_as_stored_oldest_first(api, market):
    make_candle(market, at(10, 1), open="100", high="102", low="99", close="101", volume="2", trade_count=3)
    make_candle(market, at(10, 0), open="98.5", volume="0.015", quote_volume="1.4775")

    body = get(api)

    assert times(body) == [at(10, 0), at(10, 1)]
    assert set(body[0]) == FIELDS
    assert body[0] | {"open_time": None} == {
        "open_time": None,
        "open": "98.5",
        "high": "98.5",
        "low": "98.5",
        "close": "98.5",
        "volume": "0.015",
        "quote_volume": "1.4775",
        "trade_count": 1,
    }
    assert body[1]["high"] == "102"
    assert body[1]["trade_count"] == 3


def test_five_minute_candles_fold_minutes_across_boundaries(api, market):
    make_candle(market, at(10, 3), open="100", high="104", low="99", close="103", volume="1", quote_volume="101")
    make_candle(market, at(10, 4), open="103", high="103", low="97", close="98", volume="2", quote_volume="200")
    make_candle(market, at(10, 5), open="98", high="99", low="98", close="99", volume="0.5", quote_volume="49")
    make_candle(market, at(10, 9), open="99", high="110", low="99", close="109", volume="1", quote_volume="105")
    make_candle(market, at(10, 10), open="109", volume="3", trade_count=4)

    body = get(api, interval="5m")

    assert times(body) == [at(10, 0), at(10, 5), at(10, 10)]
    assert body[0] | {"open_time": None} == {
        "open_time": None,
        "open": "100",
        "high": "104",
        "low": "97",
        "close": "98",
        "volume": "3",
        "quote_volume": "301",
        "trade_count": 2,
    }
    assert (body[1]["open"], body[1]["high"], body[1]["low"], body[1]["close"]) == ("98", "110", "98", "109")
    assert (body[1]["volume"], body[1]["quote_volume"]) == ("1.5", "154")
    assert body[2]["trade_count"] == 4


@pytest.mark.parametrize(
    ("interval", "minutes", "expected_starts"),
    [
        ("15m", [(10, 14), (10, 15), (10, 29), (10, 30)], [at(10, 0), at(10, 15), at(10, 30)]),
        ("1h", [(9, 59), (10, 0), (10, 59), (11, 0)], [at(9), at(10), at(11)]),
        ("4h", [(3, 59), (4, 0), (7, 59), (8, 0), (23, 59)], [at(0), at(4), at(8), at(20)]),
    ],
)
def test_buckets_are_aligned_to_the_epoch(api, market, interval, minutes, expected_starts):
    for hour, minute in minutes:
        make_candle(market, at(hour, minute), open="1")

    body = get(api, interval=interval)

    assert times(body) == expected_starts
    assert sum(c["trade_count"] for c in body) == len(minutes)


def test_daily_candles_start_at_utc_midnight(api, market):
    make_candle(market, at(0, 0), open="10", close="11")
    make_candle(market, at(23, 59), open="12", close="13")
    make_candle(market, at(0, 0, days=1), open="20")
    make_candle(market, at(5, 0, days=3), open="30")

    body = get(api, interval="1d")

    assert times(body) == [at(days=0), at(days=1), at(days=3)]
    assert (body[0]["open"], body[0]["close"], body[0]["trade_count"]) == ("10", "13", 2)
    assert body[0]["open_time"].endswith("Z") or body[0]["open_time"].endswith("+00:00")


def test_intervals_without_trades_have_no_candle(api, market):
    make_candle(market, at(10, 0), open="1")
    make_candle(market, at(10, 7), open="2")

    assert times(get(api, interval="1m")) == [at(10, 0), at(10, 7)]
    assert times(get(api, interval="5m")) == [at(10, 0), at(10, 5)]


def test_limit_keeps_the_most_recent_candles(api, market):
    for minute in range(0, 60, 3):
        make_candle(market, at(10, minute), open=str(100 + minute))

    body = get(api, interval="5m", limit=3)

    assert times(body) == [at(10, 45), at(10, 50), at(10, 55)]
    # 10:45 holds the minutes 45 and 48: the open comes from the earlier one.
    assert (body[0]["open"], body[0]["close"]) == ("145", "148")
    assert len(get(api, interval="1m", limit=1)) == 1
    assert len(get(api, interval="1m", limit=1000)) == 20


def test_only_the_markets_own_candles_are_used(api, market):
    from tests.factories import CurrencyFactory, MarketFactory

    other = MarketFactory(base=CurrencyFactory(code="ETH"), quote=CurrencyFactory(code="USDT"))
    make_candle(other, at(10, 0), open="5")
    make_candle(market, at(10, 1), open="100")

    assert [c["open"] for c in get(api, interval="1h")] == ["100"]


def test_end_keeps_candles_opening_up_to_it(api, market):
    for minute in (0, 10, 20, 30):
        make_candle(market, at(10, minute), open=str(minute + 1))

    by_iso = get(api, interval="1m", end="2026-05-04T10:20:00Z")
    by_ms = get(api, interval="1m", end=str(int(at(10, 20).timestamp()) * 1000))
    mid_bucket = get(api, interval="15m", end="2026-05-04T10:16:00Z")

    assert times(by_iso) == [at(10, 0), at(10, 10), at(10, 20)]
    assert by_ms == by_iso
    # The 10:15 bucket opens before 10:16, so it is whole: it includes 10:20.
    assert times(mid_bucket) == [at(10, 0), at(10, 15)]
    assert mid_bucket[1]["close"] == "21"


def test_start_gives_the_first_candles_from_it(api, market):
    for minute in (0, 10, 20, 30, 40):
        make_candle(market, at(10, minute), open=str(minute + 1))

    from_start = get(api, interval="1m", start="2026-05-04T10:10:00Z", limit=2)
    mid_bucket = get(api, interval="15m", start="2026-05-04T10:05:00+00:00")
    window = get(api, interval="1m", start="2026-05-04T10:05", end="2026-05-04T10:35")

    assert times(from_start) == [at(10, 10), at(10, 20)]
    # The 10:00 bucket opened before start: it is left out rather than cut in half.
    assert times(mid_bucket) == [at(10, 15), at(10, 30)]
    assert times(window) == [at(10, 10), at(10, 20), at(10, 30)]


def test_many_minutes_fold_correctly_across_read_pages(api, market):
    """More 1-minute rows than one read page holds (2000) still fold exactly."""
    start = at(days=-2)
    Candle.objects.bulk_create(
        Candle(
            market=market,
            open_time=start + timedelta(minutes=i),
            open=Decimal(i),
            high=Decimal(i) + 1,
            low=Decimal(i),
            close=Decimal(i),
            volume=Decimal("0.5"),
            quote_volume=Decimal(i),
            trade_count=1,
        )
        for i in range(2 * 1440)
    )

    days = get(api, interval="1d")
    hours = get(api, interval="1h", limit=30)
    minutes = get(api, interval="1m", limit=1000)
    oldest = get(api, interval="4h", start=start.isoformat(), limit=7)

    assert times(days) == [start, start + timedelta(days=1)]
    assert days[1] | {"open_time": None} == {
        "open_time": None,
        "open": "1440",
        "high": "2880",
        "low": "1440",
        "close": "2879",
        "volume": "720",
        "quote_volume": str(sum(range(1440, 2880))),
        "trade_count": 1440,
    }
    assert len(hours) == 30
    assert times(hours)[-1] == at(days=-1, hours=23)
    assert hours[0]["open"] == str(18 * 60)
    assert len(minutes) == 1000
    assert minutes[-1]["open"] == "2879"
    assert minutes[0]["open"] == "1880"
    assert times(oldest)[0] == start
    assert len(oldest) == 7
    assert oldest[-1]["close"] == str(7 * 240 - 1)


def test_every_interval_matches_a_plain_regrouping(api, market):
    rng = random.Random(7)
    rows = []
    for minute in sorted(rng.sample(range(3 * 1440), 400)):
        o, c = Decimal(rng.randint(100, 200)), Decimal(rng.randint(100, 200))
        h, lo = max(o, c) + rng.randint(0, 5), min(o, c) - rng.randint(0, 5)
        v = Decimal(rng.randint(1, 10**6)) / 1000
        rows.append(
            make_candle(
                market,
                at(minutes=minute),
                open=str(o),
                high=str(h),
                low=str(lo),
                close=str(c),
                volume=str(v),
                quote_volume=str(v * c),
                trade_count=rng.randint(1, 9),
            )
        )
    for interval, length in [("5m", 5), ("15m", 15), ("1h", 60), ("4h", 240), ("1d", 1440)]:
        groups: dict[datetime, list[Candle]] = {}
        for row in rows:
            offset = (row.open_time - DAY) // timedelta(minutes=1) % length
            groups.setdefault(row.open_time - timedelta(minutes=offset), []).append(row)
        expected = [
            {
                "open_time": start,
                "open": group[0].open,
                "high": max(r.high for r in group),
                "low": min(r.low for r in group),
                "close": group[-1].close,
                "volume": sum(r.volume for r in group),
                "quote_volume": sum(r.quote_volume for r in group),
                "trade_count": sum(r.trade_count for r in group),
            }
            for start, group in sorted(groups.items())
        ]

        body = get(api, interval=interval, limit=1000)

        actual = [
            {
                k: parse_datetime(v) if k == "open_time" else v if k == "trade_count" else Decimal(v)
                for k, v in c.items()
            }
            for c in body
        ]
        assert actual == expected, interval


def test_empty_parameters_mean_the_defaults(api, market):
    make_candle(market, at(10, 0), open="1")
    make_candle(market, at(10, 1), open="2")

    assert get(api, interval="", limit="", start="", end="") == get(api)
    assert len(get(api)) == 2


def test_candles_cost_a_couple_of_queries(api, market, django_assert_max_num_queries):
    for minute in range(10):
        make_candle(market, at(10, minute), open="1")

    with django_assert_max_num_queries(2):
        assert len(get(api, interval="5m")) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"interval": "2m"},
        {"interval": "1M"},
        {"interval": "1w"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"start": "yesterday"},
        {"start": "2026-13-01T00:00:00Z"},
        {"end": "99999999999999999999"},
        {"end": "9" * 5000},
        {"start": "-5"},
        {"start": "2026-05-04T10:00:00Z", "end": "2026-05-04T09:00:00Z"},
        {"start": "1" * 100},
    ],
)
def test_bad_query_is_a_validation_error(api, market, params):
    assert_error(api.get(URL, params), 400, "validation_error")
