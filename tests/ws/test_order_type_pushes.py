"""The private ``orders`` channel shows every state of the new order types: untriggered, triggered, amended, expired.

The frames come from the one rendering (``trading.serializers.order_out``) the REST views use, so they
carry stop_price, triggered_at, expire_time, order_list_id and amended_at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from markets.models import Market
from tests.factories import MarketFactory, UserFactory, fund

from .test_private_pushes import call, connected, match_and_settle, post_order, rest, settled_fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(transactional_db) -> Market:
    return MarketFactory()


@pytest.fixture
def trader(market):
    user = UserFactory()
    fund(user, market.quote, "100000")
    return user


async def until_order(ws, done: Callable[[dict], bool]) -> dict:
    """Receive until an ``orders`` frame satisfies ``done``; return its order."""
    while True:
        event = await ws.receive_json_from(timeout=10)
        if event["channel"] == "orders" and done(event["data"]):
            return event["data"]


def test_orders_channel_shows_untriggered_triggered_amended_and_expired(market, trader, settings):
    settings.AMEND_WAIT_SECONDS = 0
    stopper, crowd = UserFactory(), UserFactory()
    fund(stopper, market.base, "1")
    fund(crowd, market.base, "1")
    post_order(crowd, side="sell", price="30000", quantity="0.01")
    post_order(trader, side="buy", price="30000", quantity="0.01")
    asyncio.run(match_and_settle(market))  # last price 30000
    settled_fixtures()

    async def scenario():
        ws = await connected(stopper)
        status, stop = await call(
            post_order, stopper, side="sell", type="stop_limit", price="28900", quantity="0.5", stop_price="29000"
        )
        assert status == 201
        new = await until_order(ws, lambda o: o["id"] == stop["id"])
        await match_and_settle(market)
        waiting = await until_order(ws, lambda o: o["id"] == stop["id"] and o["status"] == "untriggered")
        await call(post_order, trader, side="buy", price="29000", quantity="0.3")
        await match_and_settle(market)
        await call(post_order, crowd, side="sell", price="29000", quantity="0.01")
        await match_and_settle(market)
        triggered = await until_order(ws, lambda o: o["id"] == stop["id"] and o["triggered_at"] is not None)
        answer = await call(lambda: rest(stopper).patch(f"/api/v1/orders/{stop['id']}", {"price": "29500"}, "json"))
        assert answer.status_code == 202
        await match_and_settle(market)
        amended = await until_order(ws, lambda o: o["id"] == stop["id"] and o["amended_at"] is not None)
        expire = (timezone.now() + timedelta(seconds=1)).isoformat()
        status, gtd = await call(
            post_order, stopper, side="sell", price="33000", quantity="0.1", time_in_force="GTD", expire_time=expire
        )
        await match_and_settle(market)
        await asyncio.sleep(1.2)
        await match_and_settle(market)
        expired = await until_order(ws, lambda o: o["id"] == gtd["id"] and o["status"] == "expired")
        await ws.disconnect()
        return new, waiting, triggered, amended, expired

    new, waiting, triggered, amended, expired = asyncio.run(scenario())
    assert (new["status"], new["stop_price"], new["type"]) == ("new", "29000", "stop_limit")
    assert (waiting["status"], waiting["triggered_at"]) == ("untriggered", None)
    assert (triggered["status"], triggered["filled_quantity"]) == ("partially_filled", "0.29")
    assert (amended["price"], amended["status"]) == ("29500", "partially_filled")
    assert (expired["cancel_reason"], expired["expire_time"] is not None) == ("expired", True)
