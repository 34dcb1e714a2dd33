"""Real WebSocket clients against daphne + run_matcher + a Celery worker on PostgreSQL with channels-redis."""

import signal
import time

import pytest

from markets.models import Market
from tests.factories import UserFactory
from tests.integration.stack import wait_settled

from . import scenarios

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def test_public_and_private_streams_over_channels_redis(stack, live_market, make_live_trader, ws_client):
    scenarios.public_and_private_streams(stack, live_market, make_live_trader, ws_client)


def test_auth_failures_and_malformed_frames_over_daphne(stack, ws_client):
    scenarios.auth_failures_and_malformed_frames(stack, UserFactory(), ws_client)


def test_depth_stays_in_sync_through_hundreds_of_random_orders_and_cancels(
    stack, live_market, make_live_trader, ws_client
):
    stats = scenarios.depth_sync(stack, live_market, make_live_trader, ws_client, traders=4, ops=120)
    assert stats["applied"] > 10


def test_after_a_matcher_restart_the_depth_chain_continues(stack, live_market, make_live_trader, ws_client):
    market = live_market
    trader = make_live_trader(stack, market, base="1", quote="100000")
    client = ws_client(stack)
    channel = f"depth:{market.symbol}"
    assert client.request({"op": "subscribe", "channels": [channel]})["op"] == "subscribed"
    trader.place(side="sell", type="limit", price="30500", quantity="0.1")
    wait_settled(market)
    # A batch that changes no level: its sequence is only covered by a later diff.
    trader.place(side="buy", type="limit", price="30000", quantity="0.1", time_in_force="IOC")
    wait_settled(market)
    before = Market.objects.get(pk=market.pk).last_sequence

    stack.kill("matcher", signal.SIGTERM)  # a redeploy: the old matcher closes the chain on its way out
    stack.start("matcher")
    trader.place(side="sell", type="limit", price="30600", quantity="0.1")
    wait_settled(market)
    client.wait(lambda: any(d["sequence"] > before for d in client.data(channel)), what="a diff after the restart")

    diffs = client.data(channel)
    for previous, diff in zip(diffs, diffs[1:], strict=False):
        assert diff["first_sequence"] == previous["sequence"] + 1, diffs
    after = next(d for d in diffs if d["sequence"] > before)
    assert after["first_sequence"] == before + 1
    assert after["asks"] == [["30600", "0.1"]]


def test_an_idle_connection_still_gets_events_after_the_channel_layer_read_times_out(
    stack, live_market, make_live_trader, ws_client
):
    market = live_market
    seller = make_live_trader(stack, market, base="1")
    buyer = make_live_trader(stack, market, quote="100000")
    client = ws_client(stack)
    assert client.request({"op": "subscribe", "channels": [f"trades:{market.symbol}"]})["op"] == "subscribed"
    time.sleep(12)  # longer than redis-py's 5 s read timeout, twice
    seller.place(side="sell", type="limit", price="30000", quantity="0.1")
    buyer.place(side="buy", type="limit", price="30000", quantity="0.1")
    client.wait(lambda: client.data(f"trades:{market.symbol}"), what="the trade")
    assert client.request({"op": "ping"}) == {"op": "pong"}
