"""Query counts of the hot trading and market-data paths, pinned so a regression shows.

The counts include the savepoint pair the test transaction turns each atomic block into.
"""

from __future__ import annotations

import pytest

from matching.market_data import market_data_publish
from matching.worker import MarketMatcher
from tests.factories import fund

pytestmark = pytest.mark.django_db

ORDER = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.1"}


@pytest.fixture
def alice(market, make_trader, auth_client):
    user = make_trader()
    fund(user, market.quote, "100000")
    client = auth_client(user)
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201  # warms the caches
    return client


def test_placing_an_order_costs_at_most_six_queries(alice, django_assert_max_num_queries):
    # BEGIN, INSERT order, SELECT wallet FOR UPDATE, UPDATE wallet, INSERT ledger, COMMIT
    with django_assert_max_num_queries(6):
        assert alice.post("/api/v1/orders", ORDER, format="json").status_code == 201
    with django_assert_max_num_queries(6):
        body = dict(ORDER, client_order_id="pinned-1")
        assert alice.post("/api/v1/orders", body, format="json").status_code == 201


def test_a_retried_client_order_id_still_returns_the_order(alice, django_assert_max_num_queries):
    body = dict(ORDER, client_order_id="retry-1")
    first = alice.post("/api/v1/orders", body, format="json")
    with django_assert_max_num_queries(6):
        again = alice.post("/api/v1/orders", body, format="json")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


def test_a_cancel_costs_at_most_four_queries(alice, django_assert_max_num_queries):
    order_id = alice.post("/api/v1/orders", ORDER, format="json").json()["id"]
    with django_assert_max_num_queries(4):
        response = alice.delete(f"/api/v1/orders/{order_id}")
    assert response.status_code == 202
    assert response.json()["market"] == "BTC-USDT"


def test_cancel_all_costs_at_most_three_queries(alice, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert alice.delete("/api/v1/orders?market=BTC-USDT").json() == {"canceled": 1}


def test_reading_my_orders_and_balances_costs_one_and_two_queries(alice, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert alice.get("/api/v1/orders?market=BTC-USDT").status_code == 200
    with django_assert_max_num_queries(2):
        assert alice.get("/api/v1/balances").status_code == 200


def test_market_data_hits_cost_no_query(api, market, alice, django_assert_num_queries):
    market_data_publish(MarketMatcher(market.pk).run_batch())
    api.get("/api/v1/markets/BTC-USDT/depth?limit=5")  # this process reads the markets once
    for path in (
        "/api/v1/markets/BTC-USDT/depth",
        "/api/v1/markets/BTC-USDT/depth?limit=5",
        "/api/v1/markets/BTC-USDT/trades",
        "/api/v1/markets/BTC-USDT/ticker",
        "/api/v1/tickers",
    ):
        with django_assert_num_queries(0):
            assert api.get(path).status_code == 200
