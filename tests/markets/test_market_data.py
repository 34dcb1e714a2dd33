"""Public market data: time, currencies, markets, depth and recent trades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from markets.models import Market, Order
from tests.assertions import assert_error
from tests.factories import CurrencyFactory, MarketFactory
from tests.markets.data_helpers import levels, make_snapshot, make_trade, quick_user

pytestmark = pytest.mark.django_db

CURRENCY_FIELDS = {
    "code",
    "name",
    "precision",
    "withdrawal_fee",
    "min_withdrawal",
    "dual_approval_threshold",
    "min_confirmations",
    "deposits_enabled",
    "withdrawals_enabled",
}
MARKET_FIELDS = {
    "symbol",
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_qty",
    "min_notional",
    "maker_fee",
    "taker_fee",
    "status",
}


def test_time_gives_utc_iso_time_and_matching_epoch_ms(api):
    before = timezone.now()
    response = api.get("/api/v1/time")
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"server_time", "epoch_ms"}
    server_time = parse_datetime(body["server_time"])
    assert server_time.utcoffset() == timedelta(0)
    assert before <= server_time <= after
    assert isinstance(body["epoch_ms"], int)
    assert body["epoch_ms"] == (server_time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def test_public_endpoints_ignore_a_bad_bearer_token(api, market):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    for path in ["/api/v1/time", "/api/v1/currencies", "/api/v1/markets", "/api/v1/tickers"]:
        assert api.get(path).status_code == 200, path
    assert api.get("/api/v1/markets/BTC-USDT/depth").status_code == 200


def test_currencies_is_a_plain_array_with_decimal_strings(api):
    CurrencyFactory(code="BTC", name="Bitcoin", withdrawal_fee=Decimal("0.0005"), min_withdrawal=Decimal("0.001"))
    CurrencyFactory(code="ETH", name="Ether", deposits_enabled=False)

    response = api.get("/api/v1/currencies")

    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body] == ["BTC", "ETH"]
    btc = body[0]
    assert set(btc) == CURRENCY_FIELDS
    assert btc == {
        "code": "BTC",
        "name": "Bitcoin",
        "precision": 8,
        "withdrawal_fee": "0.0005",
        "min_withdrawal": "0.001",
        "dual_approval_threshold": "1000000",
        "min_confirmations": 2,
        "deposits_enabled": True,
        "withdrawals_enabled": True,
    }
    assert body[1]["deposits_enabled"] is False


def test_markets_lists_every_market_with_currency_codes(api, django_assert_max_num_queries):
    MarketFactory()
    MarketFactory(
        base=CurrencyFactory(code="ETH"),
        quote=CurrencyFactory(code="USDT"),
        tick_size=Decimal("0.05"),
        status=Market.Status.HALTED,
    )

    with django_assert_max_num_queries(1):
        response = api.get("/api/v1/markets")

    assert response.status_code == 200
    body = response.json()
    assert [m["symbol"] for m in body] == ["BTC-USDT", "ETH-USDT"]
    assert set(body[0]) == MARKET_FIELDS
    assert body[0] == {
        "symbol": "BTC-USDT",
        "base": "BTC",
        "quote": "USDT",
        "tick_size": "0.01",
        "lot_size": "0.00001",
        "min_qty": "0.00001",
        "min_notional": "1",
        "maker_fee": "0.001",
        "taker_fee": "0.002",
        "status": "open",
    }
    assert body[1]["tick_size"] == "0.05"
    assert body[1]["status"] == "halted"


def test_market_detail_gives_one_market(api, market):
    response = api.get("/api/v1/markets/BTC-USDT")

    assert response.status_code == 200
    assert response.json()["symbol"] == "BTC-USDT"
    assert response.json()["base"] == "BTC"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/markets/DOGE-USDT",
        "/api/v1/markets/btc-usdt",
        "/api/v1/markets/DOGE-USDT/depth",
        "/api/v1/markets/DOGE-USDT/trades",
        "/api/v1/markets/DOGE-USDT/candles",
        "/api/v1/markets/DOGE-USDT/ticker",
        "/api/v1/markets/" + "X" * 300,
    ],
)
def test_unknown_market_is_not_found(api, market, path):
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/markets/BTC%00USDT", "/api/v1/markets/BTC%00USDT/ticker"])
def test_nul_in_the_url_is_refused_before_any_query(api, market, path):
    assert_error(api.get(path), 400, "validation_error")


def test_depth_serves_the_snapshot_sliced_to_limit(api, market):
    make_snapshot(market, sequence=42, bids=levels(100, 80, -1), asks=levels(101, 80, 1))

    default = api.get("/api/v1/markets/BTC-USDT/depth").json()
    three = api.get("/api/v1/markets/BTC-USDT/depth?limit=3").json()

    assert set(default) == {"symbol", "sequence", "bids", "asks"}
    assert default["symbol"] == "BTC-USDT"
    assert default["sequence"] == 42
    assert len(default["bids"]) == 50
    assert len(default["asks"]) == 50
    assert three == {
        "symbol": "BTC-USDT",
        "sequence": 42,
        "bids": [["100", "1.5"], ["99", "1.5"], ["98", "1.5"]],
        "asks": [["101", "1.5"], ["102", "1.5"], ["103", "1.5"]],
    }
    assert len(api.get("/api/v1/markets/BTC-USDT/depth?limit=500").json()["bids"]) == 80


def test_depth_without_snapshot_is_empty_at_the_markets_last_sequence(api, market):
    Market.objects.filter(pk=market.pk).update(last_sequence=17)

    response = api.get("/api/v1/markets/BTC-USDT/depth")

    assert response.status_code == 200
    assert response.json() == {"symbol": "BTC-USDT", "sequence": 17, "bids": [], "asks": []}


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", "9" * 5000])
def test_depth_refuses_a_bad_limit(api, market, limit):
    assert_error(api.get(f"/api/v1/markets/BTC-USDT/depth?limit={limit}"), 400, "validation_error")


def test_trades_are_newest_first_with_public_fields_only(api, market):
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    maker, taker = quick_user(), quick_user()
    first = make_trade(market, price="100.50", quantity="0.2", time=t0, maker=maker, taker=taker)
    second = make_trade(
        market,
        price="101",
        quantity="0.015",
        time=t0 + timedelta(seconds=5),
        taker_side=Order.Side.SELL,
        maker=maker,
        taker=taker,
    )

    response = api.get("/api/v1/markets/BTC-USDT/trades")

    assert response.status_code == 200
    body = response.json()
    assert [t["id"] for t in body] == [second.id, first.id]
    assert body[0] == {
        "id": second.id,
        "price": "101",
        "quantity": "0.015",
        "quote_quantity": "1.515",
        "taker_side": "sell",
        "time": body[0]["time"],
    }
    assert parse_datetime(body[0]["time"]) == t0 + timedelta(seconds=5)
    assert body[1]["price"] == "100.5"
    assert body[1]["quote_quantity"] == "20.1"
    assert body[1]["taker_side"] == "buy"


def test_trades_honour_limit_and_market(api, market):
    other = MarketFactory(base=CurrencyFactory(code="ETH"), quote=CurrencyFactory(code="USDT"))
    maker, taker = quick_user(), quick_user()
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    ids = [make_trade(market, price=str(100 + i), quantity="1", time=t0, maker=maker, taker=taker).id for i in range(5)]
    make_trade(other, price="5", quantity="1", time=t0, maker=maker, taker=taker)

    body = api.get("/api/v1/markets/BTC-USDT/trades?limit=2").json()

    assert [t["id"] for t in body] == ids[::-1][:2]
    assert len(api.get("/api/v1/markets/BTC-USDT/trades?limit=1000").json()) == 5
    assert api.get("/api/v1/markets/BTC-USDT/trades").json()[0]["price"] == "104"


def test_trades_of_a_market_without_trades_is_an_empty_array(api, market):
    response = api.get("/api/v1/markets/BTC-USDT/trades")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("limit", ["0", "1001", "x", ""])
def test_trades_refuse_a_bad_limit(api, market, limit):
    response = api.get(f"/api/v1/markets/BTC-USDT/trades?limit={limit}")
    if limit == "":
        assert response.status_code == 200  # an empty value means the default
    else:
        assert_error(response, 400, "validation_error")


def test_public_endpoints_are_described_in_the_openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    from markets import urls

    schema = SchemaGenerator(patterns=urls.urlpatterns).get_schema(request=None, public=True)

    paths = schema["paths"]
    assert {"/time", "/currencies", "/markets", "/markets/{symbol}", "/tickers"} <= set(paths)
    candle_params = {p["name"] for p in paths["/markets/{symbol}/candles"]["get"]["parameters"]}
    assert {"interval", "limit", "start", "end", "symbol"} <= candle_params
    market = schema["components"]["schemas"]["Market"]["properties"]
    assert market["tick_size"]["type"] == "string"
