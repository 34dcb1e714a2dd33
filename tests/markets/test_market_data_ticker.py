"""24 h tickers: ticker_get, GET /markets/{symbol}/ticker and GET /tickers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from markets.selectors import ticker_get, ticker_list
from tests.factories import CurrencyFactory, MarketFactory
from tests.markets.data_helpers import make_candle, make_snapshot

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
TICKER_FIELDS = {
    "symbol",
    "last_price",
    "open_price",
    "high",
    "low",
    "volume",
    "quote_volume",
    "change_percent",
    "best_bid",
    "best_ask",
}


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


def test_market_that_never_traded_has_an_empty_ticker(market):
    assert ticker_get(market=market, now=NOW) == {
        "symbol": "BTC-USDT",
        "last_price": None,
        "open_price": None,
        "high": None,
        "low": None,
        "volume": "0",
        "quote_volume": "0",
        "change_percent": "0",
        "best_bid": None,
        "best_ask": None,
    }


def test_ticker_summarises_the_last_24_hours(market):
    make_candle(market, ago(hours=30), open="50", high="500", low="1", volume="100")  # outside the window
    make_candle(market, ago(hours=23), open="100", high="104", low="98", close="101", volume="1", quote_volume="100")
    make_candle(market, ago(hours=5), open="101", high="120", low="95", close="110", volume="2.5", quote_volume="260")
    make_candle(market, ago(minutes=1), open="110", high="111", low="104", close="105", volume="0.5", quote_volume="54")
    make_snapshot(market, sequence=9, bids=[["104.5", "1"], ["104", "2"]], asks=[["105.5", "0.3"]])

    ticker = ticker_get(market=market, now=NOW)

    assert ticker == {
        "symbol": "BTC-USDT",
        "last_price": "105",
        "open_price": "100",
        "high": "120",
        "low": "95",
        "volume": "4",
        "quote_volume": "414",
        "change_percent": "5.00",
        "best_bid": "104.5",
        "best_ask": "105.5",
    }


def test_window_starts_exactly_24_hours_ago(market):
    make_candle(market, ago(hours=24, minutes=1), open="80")
    make_candle(market, ago(hours=24), open="90", close="91")
    make_candle(market, ago(hours=1), open="95", close="99")

    ticker = ticker_get(market=market, now=NOW)
    one_second_later = ticker_get(market=market, now=NOW + timedelta(seconds=1))

    assert (ticker["open_price"], ticker["low"], ticker["volume"]) == ("90", "90", "2")
    assert ticker["change_percent"] == "10.00"
    assert (one_second_later["open_price"], one_second_later["volume"]) == ("95", "1")
    assert one_second_later["change_percent"] == "4.21"  # 4 / 95 = 4.2105...


def test_last_price_outlives_the_window_but_the_change_does_not(market):
    make_candle(market, ago(days=3), open="70", close="75", volume="9")

    ticker = ticker_get(market=market, now=NOW)

    assert ticker["last_price"] == "75"
    assert ticker["open_price"] is None
    assert (ticker["high"], ticker["low"]) == (None, None)
    assert (ticker["volume"], ticker["quote_volume"]) == ("0", "0")
    assert ticker["change_percent"] == "0"


@pytest.mark.parametrize(
    ("open_", "close", "expected"),
    [
        ("3", "3.1", "3.33"),
        ("8", "8.001", "0.01"),  # 0.0125 rounds half up
        ("100", "99.999", "0.00"),  # a tiny fall is not "-0.00"
        ("200", "150", "-25.00"),
        ("0.00000001", "0.00000003", "200.00"),
        ("100", "100", "0.00"),
    ],
)
def test_change_percent_has_two_decimals(market, open_, close, expected):
    make_candle(market, ago(hours=2), open=open_)
    make_candle(market, ago(hours=1), open=close)

    assert ticker_get(market=market, now=NOW)["change_percent"] == expected


def test_one_sided_book_gives_a_null_best_price(market):
    make_snapshot(market, sequence=3, bids=[], asks=[["101", "1"]])

    ticker = ticker_get(market=market, now=NOW)

    assert (ticker["best_bid"], ticker["best_ask"]) == (None, "101")


def test_ticker_endpoint_serves_the_selectors_object(api, market):
    now = timezone.now()
    make_candle(market, now - timedelta(hours=2), open="200", volume="0.1")
    make_candle(market, now - timedelta(minutes=3), open="210", volume="0.2")

    response = api.get("/api/v1/markets/BTC-USDT/ticker")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == TICKER_FIELDS
    assert body == ticker_get(market=market)
    assert (body["last_price"], body["open_price"], body["volume"], body["change_percent"]) == (
        "210",
        "200",
        "0.3",
        "5.00",
    )


def test_tickers_lists_every_market_by_symbol(api, market):
    eth = MarketFactory(base=CurrencyFactory(code="ETH"), quote=CurrencyFactory(code="USDT"))
    MarketFactory(base=CurrencyFactory(code="ADA"), quote=CurrencyFactory(code="USDT"))
    now = timezone.now()
    make_candle(market, now - timedelta(hours=1), open="100", close="101")
    make_candle(eth, now - timedelta(hours=30), open="3")
    make_candle(eth, now - timedelta(hours=1), open="4", volume="2")
    make_snapshot(eth, sequence=1, bids=[["3.9", "1"]], asks=[])

    response = api.get("/api/v1/tickers")

    assert response.status_code == 200
    body = response.json()
    assert [t["symbol"] for t in body] == ["ADA-USDT", "BTC-USDT", "ETH-USDT"]
    assert all(set(t) == TICKER_FIELDS for t in body)
    assert body[0]["last_price"] is None
    assert body[1]["last_price"] == "101"
    assert (body[2]["open_price"], body[2]["volume"], body[2]["best_bid"], body[2]["best_ask"]) == (
        "4",
        "2",
        "3.9",
        None,
    )


def test_ticker_list_agrees_with_ticker_get_in_a_fixed_number_of_queries(market, django_assert_max_num_queries):
    markets = [market] + [
        MarketFactory(base=CurrencyFactory(code=code), quote=CurrencyFactory(code="USDT")) for code in ("ETH", "SOL")
    ]
    for i, m in enumerate(markets):
        make_candle(m, ago(days=2), open=str(10 + i))
        if i:
            make_candle(m, ago(hours=i), open=str(20 + i), close=str(21 + i), volume="0.5")
            make_snapshot(m, sequence=i, bids=[[str(19 + i), "1"]], asks=[[str(22 + i), "1"]])

    with django_assert_max_num_queries(3):
        tickers = ticker_list(now=NOW)

    assert tickers == [ticker_get(market=m, now=NOW) for m in sorted(markets, key=lambda m: m.symbol)]
    assert tickers[0]["last_price"] == "10"
