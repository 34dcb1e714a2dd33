"""candles_record: the matcher's write side of 1-minute candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from markets.candles import candles_record
from markets.models import Candle
from tests.factories import CurrencyFactory, MarketFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


def fill(seconds: float, price: str, quantity: str) -> tuple[datetime, Decimal, Decimal, Decimal]:
    p, qty = Decimal(price), Decimal(quantity)
    return (T0 + timedelta(seconds=seconds), p, qty, p * qty)


def candle_values(market) -> list[tuple]:
    return list(
        Candle.objects.filter(market=market)
        .order_by("open_time")
        .values_list("open_time", "open", "high", "low", "close", "volume", "quote_volume", "trade_count")
    )


def test_first_fills_of_a_minute_create_its_candle(market):
    candles_record(
        market_id=market.pk,
        fills=[fill(5, "100", "1"), fill(10, "103", "0.5"), fill(20, "98", "2"), fill(59.999, "101", "0.25")],
    )

    assert candle_values(market) == [
        (T0, Decimal("100"), Decimal("103"), Decimal("98"), Decimal("101"), Decimal("3.75"), Decimal("372.75"), 4)
    ]


def test_later_calls_for_the_same_minute_merge_into_its_candle(market):
    candles_record(market_id=market.pk, fills=[fill(1, "100", "1")])
    candles_record(market_id=market.pk, fills=[fill(2, "105", "0.1"), fill(3, "99.5", "0.2")])
    candles_record(market_id=market.pk, fills=[fill(4, "101.25", "1")])

    assert candle_values(market) == [
        (
            T0,
            Decimal("100"),
            Decimal("105"),
            Decimal("99.5"),
            Decimal("101.25"),
            Decimal("2.3"),
            Decimal("231.65"),
            4,
        )
    ]


def test_fills_spanning_minutes_update_the_old_minute_and_open_the_new_one(market):
    candles_record(market_id=market.pk, fills=[fill(30, "100", "1")])

    candles_record(
        market_id=market.pk,
        fills=[fill(59, "102", "1"), fill(60, "103", "1"), fill(61, "101", "2"), fill(125, "90", "1")],
    )

    assert candle_values(market) == [
        (T0, Decimal("100"), Decimal("102"), Decimal("100"), Decimal("102"), Decimal("2"), Decimal("202"), 2),
        (
            T0 + timedelta(minutes=1),
            Decimal("103"),
            Decimal("103"),
            Decimal("101"),
            Decimal("101"),
            Decimal("3"),
            Decimal("305"),
            2,
        ),
        (
            T0 + timedelta(minutes=2),
            Decimal("90"),
            Decimal("90"),
            Decimal("90"),
            Decimal("90"),
            Decimal("1"),
            Decimal("90"),
            1,
        ),
    ]


def test_minute_is_taken_in_utc_whatever_the_fills_time_zone(market):
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 5, 4, 12, 30, 45, tzinfo=plus_two)

    candles_record(market_id=market.pk, fills=[(moment, Decimal("1"), Decimal("1"), Decimal("1"))])

    assert Candle.objects.get(market=market).open_time == T0


def test_markets_keep_separate_candles_for_the_same_minute(market):
    other = MarketFactory(base=CurrencyFactory(code="ETH"), quote=CurrencyFactory(code="USDT"))

    candles_record(market_id=market.pk, fills=[fill(1, "100", "1")])
    candles_record(market_id=other.pk, fills=[fill(1, "5", "3")])
    candles_record(market_id=market.pk, fills=[fill(2, "110", "1")])

    assert Candle.objects.get(market=other).close == Decimal("5")
    assert Candle.objects.get(market=other).trade_count == 1
    assert Candle.objects.get(market=market).close == Decimal("110")


def test_no_fills_writes_nothing(market, django_assert_num_queries):
    with django_assert_num_queries(0):
        candles_record(market_id=market.pk, fills=[])

    assert not Candle.objects.exists()


def test_a_batch_of_hundreds_of_fills_costs_three_queries(market, django_assert_max_num_queries):
    candles_record(market_id=market.pk, fills=[fill(0, "100", "1")])
    fills = [fill(i * 0.5, str(100 + i % 7), "0.001") for i in range(1, 600)]  # spans five minutes

    with django_assert_max_num_queries(3):
        candles_record(market_id=market.pk, fills=fills)

    rows = candle_values(market)
    assert len(rows) == 5
    assert sum(r[7] for r in rows) == 600
    assert sum((r[5] for r in rows), Decimal(0)) == Decimal("1") + Decimal("0.599")
    assert rows[0][1] == Decimal("100")  # the open of the first call survives
    assert rows[-1][4] == fills[-1][1]


def test_large_amounts_are_summed_exactly(market):
    big = Decimal("123456789012345678.123456789012345678")
    candles_record(market_id=market.pk, fills=[(T0, Decimal("1"), big, big)])
    candles_record(market_id=market.pk, fills=[(T0, Decimal("1"), Decimal("0.000000000000000001"), big)])

    candle = Candle.objects.get(market=market)
    assert candle.volume == Decimal("123456789012345678.123456789012345679")
    assert candle.quote_volume == Decimal("246913578024691356.246913578024691356")


def test_naive_times_are_refused(market):
    naive = datetime(2026, 5, 4, 10, 30)  # noqa: DTZ001 - the naive time is the input under test
    with pytest.raises(ValueError, match="timezone-aware"):
        candles_record(market_id=market.pk, fills=[(naive, Decimal(1), Decimal(1), Decimal(1))])
