"""Market data served from what the matcher publishes after each batch (matching.market_data)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from markets import selectors
from markets.selectors_cached import depth_key, ticker_bodies_cached, ticker_key
from markets.serializers_public import DepthSerializer, PublicTradeSerializer
from markets.services_ops import market_halt, market_set_fees
from matching.market_data import market_data_prepare, market_data_publish, market_data_warm, ticker_latest
from matching.worker import BatchResult, MarketMatcher
from tests.factories import UserFactory, fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(market, make_trader, auth_client):
    """Two funded traders' clients and a matcher for ``market``."""
    alice, bob = make_trader(), make_trader()
    fund(alice, market.quote, "100000")
    fund(bob, market.base, "10")
    return auth_client(alice), auth_client(bob), MarketMatcher(market.pk)


def place(client, side: str, price: str, quantity: str):
    body = {"market": "BTC-USDT", "side": side, "type": "limit", "price": price, "quantity": quantity}
    response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.content
    return response


def batch(matcher: MarketMatcher) -> BatchResult:
    """One committed batch and the matcher's after-batch hooks for market data."""
    result = matcher.run_batch()
    assert result is not None
    market_data_prepare(result)
    market_data_publish(result)
    return result


def database_answers(market) -> dict:
    """What the endpoints answered before the cache: computed from the database."""
    return {
        "depth": dict(DepthSerializer(selectors.depth_get(market=market, limit=50)).data),
        "depth2": dict(DepthSerializer(selectors.depth_get(market=market, limit=2)).data),
        "trades": json.loads(
            json.dumps(PublicTradeSerializer(selectors.trade_list_recent(market=market, limit=100), many=True).data)
        ),
        "trades3": json.loads(
            json.dumps(PublicTradeSerializer(selectors.trade_list_recent(market=market, limit=3), many=True).data)
        ),
        "ticker": selectors.ticker_get(market=market),
        "tickers": selectors.ticker_list(),
    }


def api_answers(api, django_assert_num_queries) -> dict:
    """The same answers through the API, each a cache hit costing no query."""
    paths = {
        "depth": "/api/v1/markets/BTC-USDT/depth",
        "depth2": "/api/v1/markets/BTC-USDT/depth?limit=2",
        "trades": "/api/v1/markets/BTC-USDT/trades",
        "trades3": "/api/v1/markets/BTC-USDT/trades?limit=3",
        "ticker": "/api/v1/markets/BTC-USDT/ticker",
    }
    selectors.markets_by_symbol()  # this process's copy of the markets, read once per change
    out = {}
    for name, path in paths.items():
        with django_assert_num_queries(0):
            response = api.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        out[name] = response.json()
    with django_assert_num_queries(0):
        out["tickers"] = api.get("/api/v1/tickers").json()
    return out


def test_cached_answers_equal_the_database_after_each_batch(api, market, book, django_assert_num_queries):
    alice, bob, matcher = book
    place(alice, "buy", "100.00", "0.5")
    place(alice, "buy", "99.00", "1")
    place(bob, "sell", "101.00", "2")
    batch(matcher)
    assert api_answers(api, django_assert_num_queries) == database_answers(market)

    place(bob, "sell", "100.00", "0.2")
    place(bob, "sell", "99.00", "0.4")
    result = batch(matcher)
    assert len(result.trades) == 3
    cached = api_answers(api, django_assert_num_queries)
    assert cached == database_answers(market)
    assert ticker_latest(market_id=market.pk) == cached["ticker"], "the WebSocket ticker is the same object"
    assert cached["depth"]["sequence"] == result.sequence
    assert cached["ticker"]["volume"] == "0.6"


def test_depth_of_a_cached_snapshot_carries_the_batch_sequence(api, market, book):
    alice, _, matcher = book
    place(alice, "buy", "100.00", "0.5")
    result = batch(matcher)
    body = api.get("/api/v1/markets/BTC-USDT/depth").json()
    assert body == {"symbol": "BTC-USDT", "sequence": result.sequence, "bids": [["100", "0.5"]], "asks": []}


def test_an_older_batch_never_replaces_a_newer_snapshot(api, market, book):
    alice, _, matcher = book
    place(alice, "buy", "100.00", "0.5")
    newer = batch(matcher)
    stale = BatchResult(market=newer.market, first_sequence=1, sequence=newer.sequence - 1, time=newer.time)
    market_data_publish(stale)
    assert cache.get(depth_key("BTC-USDT"))[0] == newer.sequence
    assert api.get("/api/v1/markets/BTC-USDT/depth").json()["bids"] == [["100", "0.5"]]


def test_a_cache_miss_falls_back_to_the_database(api, market, book):
    alice, bob, matcher = book
    place(alice, "buy", "100.00", "0.5")
    place(bob, "sell", "100.00", "0.1")
    batch(matcher)
    cache.clear()
    expected = database_answers(market)
    assert api.get("/api/v1/markets/BTC-USDT/depth").json() == expected["depth"]
    assert api.get("/api/v1/markets/BTC-USDT/trades").json() == expected["trades"]
    assert api.get("/api/v1/markets/BTC-USDT/ticker").json() == expected["ticker"]
    assert api.get("/api/v1/tickers").json() == expected["tickers"]
    # A web process never fills the entries itself: only the matcher writes them.
    assert cache.get(depth_key("BTC-USDT")) is None


def test_warm_up_at_matcher_start_publishes_the_rebuilt_book(api, market, book, django_assert_num_queries):
    alice, bob, matcher = book
    place(alice, "buy", "100.00", "0.5")
    place(bob, "sell", "100.00", "0.1")
    matcher.run_batch()
    cache.clear()
    market_data_warm(MarketMatcher(market.pk))
    assert api_answers(api, django_assert_num_queries) == database_answers(market)


def test_a_ticker_entry_is_used_only_while_its_24h_window_is_exact(market, book):
    alice, bob, matcher = book
    place(alice, "buy", "100.00", "0.5")
    place(bob, "sell", "100.00", "0.1")
    batch(matcher)
    valid_until = cache.get(ticker_key("BTC-USDT"))[0]
    assert valid_until <= (timezone.now() + timedelta(hours=24, minutes=1)).timestamp()
    assert ticker_bodies_cached(symbols=["BTC-USDT"], now=valid_until)
    assert ticker_bodies_cached(symbols=["BTC-USDT"], now=valid_until + 1) == {}


def test_a_halt_and_a_fee_change_show_at_once(api, market, book):
    alice, _, _ = book
    assert api.get("/api/v1/markets/BTC-USDT").json()["status"] == "open"
    staff = UserFactory(is_staff=True)
    # Raised fees apply at once (a lowered fee would wait for a second person's approval).
    market_set_fees(
        actor=staff, market_id=market.pk, maker_fee=selectors.Decimal("0.003"), taker_fee=selectors.Decimal("0.004")
    )
    body = api.get("/api/v1/markets/BTC-USDT").json()
    assert (body["maker_fee"], body["taker_fee"]) == ("0.003", "0.004")
    market_halt(actor=staff, market_id=market.pk, reason="test")
    assert api.get("/api/v1/markets/BTC-USDT").json()["status"] == "halted"
    response = alice.post(
        "/api/v1/orders",
        {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "market_halted"


def test_a_hit_sends_the_same_bytes_and_headers_as_the_database_answer(api, market, book):
    alice, _, matcher = book
    place(alice, "buy", "100.00", "0.5")
    matcher.run_batch()
    miss = api.get("/api/v1/markets/BTC-USDT/depth")
    market_data_publish(
        MarketMatcher(market.pk).run_batch()
        or BatchResult(market=market, first_sequence=2, sequence=1, time=timezone.now(), book_bids=[["100", "0.5"]])
    )
    hit = api.get("/api/v1/markets/BTC-USDT/depth")
    assert cache.get(depth_key("BTC-USDT")) is not None
    assert hit.content == miss.content
    assert dict(hit.headers) == dict(miss.headers)


def test_unknown_market_is_still_not_found_with_a_bad_limit(api, market):
    response = api.get("/api/v1/markets/NOPE-USDT/depth?limit=0")
    assert response.status_code == 404
    assert api.get("/api/v1/markets/BTC-USDT/depth?limit=0").status_code == 400
