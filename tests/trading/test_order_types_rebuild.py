"""The matcher rebuilds waiting stops, OCO links, expiry times and the last price exactly from the database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from markets.models import Order, Trade
from matching.worker import MarketMatcher
from tests.factories import UserFactory, fund, match_and_settle
from tests.trading.helpers import balance, place

pytestmark = pytest.mark.django_db


def _drain(matcher: MarketMatcher) -> None:
    while matcher.run_batch() is not None:
        pass


def test_a_rebuilt_book_equals_the_running_one(market, traders, auth_client):
    alice, bob, ca, cb = traders
    crowd = UserFactory()
    fund(crowd, market.base, "1")
    place(auth_client(crowd), side="sell", type="limit", price="30000", quantity="0.01")
    place(ca, side="buy", type="limit", price="30000", quantity="0.01")
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    place(cb, side="sell", type="stop_limit", price="28900", quantity="0.5", stop_price="29000")
    gtd = {"time_in_force": "GTD", "expire_time": later}
    place(cb, side="sell", type="stop_market", quantity="0.2", stop_price="29000", **gtd)
    place(ca, side="buy", type="stop_market", quote_quantity="3000", stop_price="31000")
    oco = {"market": "BTC-USDT", "side": "buy", "quantity": "0.1", "price": "29500", "stop_price": "30500"}
    assert ca.post("/api/v1/order-lists/oco", oco, format="json").status_code == 201
    place(cb, side="sell", type="limit", price="32000", quantity="0.3", **gtd)
    running = MarketMatcher(market.pk)
    _drain(running)

    rebuilt = MarketMatcher(market.pk)
    # Everything but the clock, which the first batch's expire(now) sets.
    assert rebuilt.book.snapshot()._replace(now=None) == running.book.snapshot()._replace(now=None)
    assert rebuilt.book.last_price() == 3_000_000
    assert len(rebuilt.book.stops()) == 4
    assert len(rebuilt.book.oco_pairs()) == 1
    assert rebuilt.oco == running.oco


def test_a_stop_triggered_by_the_batch_that_placed_it(market, traders, auth_client):
    """Stops and the orders that cross them in one batch: each stop triggers once, in sequence."""
    alice, bob, ca, cb = traders
    crowd = UserFactory()
    fund(crowd, market.base, "1")
    place(auth_client(crowd), side="sell", type="limit", price="30000", quantity="0.01")
    place(ca, side="buy", type="limit", price="30000", quantity="0.01")
    match_and_settle(market)  # last price 30000
    stop = place(cb, side="sell", type="stop_market", quantity="0.1", stop_price="29900")
    place(ca, side="buy", type="limit", price="29800", quantity="0.2")
    place(auth_client(crowd), side="sell", type="limit", price="29800", quantity="0.1")
    match_and_settle(market)  # one batch: the crowd's sale at 29800 triggers bob's stop, which sells 0.1 more
    order = Order.objects.get(pk=stop["id"])
    assert (order.status, order.filled_quantity, order.triggered_at is not None) == ("filled", D("0.1"), True)
    assert order.sequence > Order.objects.filter(user=alice).order_by("-id").first().sequence
    assert Trade.objects.filter(taker_order_id=stop["id"]).count() == 1
    assert balance(alice, market.base)[0] == D("0.01") - D("0.00002") + D("0.2") - D("0.0002")
    MarketMatcher(market.pk)  # a rebuild triggers nothing again
    match_and_settle(market)
    assert Trade.objects.filter(taker_order_id=stop["id"]).count() == 1
