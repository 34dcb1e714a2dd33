"""Private frames are rendered only for users with a live private subscription (``realtime.presence``).

The real services, matcher, settlement and in-process publisher; the clients are
``WebsocketCommunicator``s. With ``REDIS_URL`` presence lives in Redis (the
PostgreSQL pass), without it in this process's memory (the SQLite pass).
"""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal as D

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from exchange_site.settings import _presence_seconds
from markets.models import Market, Order
from matching.runner import batch_event
from matching.worker import MarketMatcher
from realtime import presence
from realtime.frames import user_group
from realtime.presence import presence_key, presence_shared, socket_presence, users_present
from realtime.publisher import publisher
from realtime.subscribers import batch_publish
from tests.factories import MarketFactory, UserFactory, fund
from trading.services import OrderRequest, order_place
from wallets.models import Wallet
from wallets.settlement import market_settle_all

from .test_private_pushes import (
    call,
    connected,
    counted,
    data,
    events_until,
    match_and_settle,
    post_order,
    rest,
    settled_fixtures,
)

pytestmark = pytest.mark.django_db(transaction=True)

redis_only = pytest.mark.skipif(not settings.REDIS_URL, reason="presence in Redis needs REDIS_URL")


@pytest.fixture
def market(transactional_db) -> Market:
    return MarketFactory()


def present(user) -> bool:
    return users_present([user.pk]) == {user.pk}


async def layer_listener(user) -> tuple[object, str]:
    """A bare channel-layer member of the user's group: it sees every message the publisher sends the user."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(user.pk), channel)
    return layer, channel


class Collector:
    """What the layer delivers to ``channel``, read by one task (channels-redis drops a cancelled read's channel)."""

    def __init__(self, layer, channel: str) -> None:
        self.messages: list[dict] = []
        self.task = asyncio.create_task(self._read(layer, channel))

    async def _read(self, layer, channel: str) -> None:
        while True:
            message = await layer.receive(channel)
            self.messages.append(message)

    async def taken(self, quiet: float = 0.5) -> list[dict]:
        await asyncio.sleep(quiet)
        messages, self.messages = self.messages, []
        return messages


def test_a_user_without_a_socket_gets_nothing_rendered_while_one_with_a_socket_gets_everything(market):
    seller, buyer = UserFactory(), UserFactory()
    fund(seller, market.base, "1")
    fund(buyer, market.quote, "100000")
    settled_fixtures()

    async def scenario():
        ws = await connected(seller)
        listener = Collector(*await layer_listener(buyer))
        await call(post_order, seller, side="sell", price="30000", quantity="0.5")
        await call(post_order, buyer, side="buy", price="30000", quantity="0.2")
        placed = await events_until(ws, counted(orders=1, balances=1))
        await match_and_settle(market)
        settled = await events_until(ws, counted(orders=1, fills=1, balances=2))
        absent = await listener.taken()
        # The same user, once present, gets the next change.
        ws_buyer = await connected(buyer)
        await call(post_order, buyer, side="buy", price="29000", quantity="0.1")
        later = await events_until(ws_buyer, counted(orders=1, balances=1))
        pushed = await listener.taken()
        listener.task.cancel()
        for socket in (ws, ws_buyer):
            await socket.disconnect()
        return placed, settled, absent, later, pushed

    placed, settled, absent, later, pushed = asyncio.run(scenario())
    assert [o["status"] for o in data(placed, "orders")] == ["new"]
    assert [o["status"] for o in data(settled, "orders")] == ["partially_filled"]
    assert [f["quantity"] for f in data(settled, "fills")] == ["0.2"]
    assert sorted(b["currency"] for b in data(settled, "balances")) == ["BTC", "USDT"]
    assert absent == [], "no orders, fills or balances were sent for the buyer without a socket"
    assert [o["status"] for o in data(later, "orders")] == ["new"]
    assert {m["user_id"] for m in pushed} == {buyer.pk}, "the buyer's frames go out once a socket holds them"
    assert {item[0] for m in pushed for item in m["frames"]} == {"orders", "balances"}


def test_the_user_is_present_before_the_private_subscription_is_acknowledged(market):
    user, other = UserFactory(), UserFactory()

    async def scenario():
        before = await call(present, user)
        ws = await connected(user)  # returns on the `subscribed` acknowledgement
        at_ack = await call(present, user)
        other_present = await call(present, other)
        await ws.disconnect()
        after = await call(present, user)
        return before, at_ack, other_present, after

    before, at_ack, other_present, after = asyncio.run(scenario())
    assert (before, at_ack, other_present) == (False, True, False)
    # One process: the count is exact. Redis: the entry runs out by itself (another
    # process may still hold a socket of the user); until then it only wastes frames.
    assert after is presence_shared()


def test_a_public_subscription_alone_does_not_make_the_user_present(market):
    from .helpers import access_token

    user = UserFactory()

    async def scenario():
        from channels.routing import URLRouter
        from channels.testing import WebsocketCommunicator

        from realtime.routing import websocket_urlpatterns

        ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/v1/")
        assert (await ws.connect())[0]
        await ws.send_json_to({"op": "auth", "token": access_token(user)})
        assert await ws.receive_json_from(timeout=5) == {"op": "authenticated"}
        await ws.send_json_to({"op": "subscribe", "channels": ["trades:BTC-USDT"]})
        assert (await ws.receive_json_from(timeout=5))["op"] == "subscribed"
        public_only = await call(present, user)
        await ws.send_json_to({"op": "subscribe", "channels": ["orders"]})
        assert (await ws.receive_json_from(timeout=5))["op"] == "subscribed"
        private = await call(present, user)
        await ws.disconnect()
        return public_only, private

    assert asyncio.run(scenario()) == (False, True)


ROUNDS = 30


def trade_rounds(market, user, maker, started: threading.Event, stop_after: int) -> None:
    """Orders of ``user`` matched and settled, round after round, while a client subscribes."""
    try:
        matcher = MarketMatcher(market.pk)
        for i in range(stop_after):
            for owner, side in ((maker, "sell"), (user, "buy")):
                request = OrderRequest(side=side, type="limit", price=D("30000"), quantity=D("0.01"))
                order_place(user_id=owner.pk, market=market, order=request)
            while (result := matcher.run_batch()) is not None:
                batch_publish(batch_event(result))
            market_settle_all(market_id=market.pk)
            if i == 5:
                started.set()
            time.sleep(0.01)
    finally:
        started.set()
        connection.close()


def test_a_client_that_subscribes_then_reads_rest_ends_up_with_every_change(market):
    """The race presence must survive: batches skipped before the user was present are in the REST read."""
    user, maker = UserFactory(), UserFactory()
    fund(user, market.quote, "100000")
    fund(maker, market.base, "10")
    settled_fixtures()
    started = threading.Event()
    producer = threading.Thread(target=trade_rounds, args=(market, user, maker, started, ROUNDS))

    def rest_state() -> tuple[dict[int, str], dict[str, dict]]:
        client = rest(user)
        orders = {o["id"]: o["status"] for o in client.get("/api/v1/orders?status=all&limit=500").json()["results"]}
        balances = {b["currency"]: b for b in client.get("/api/v1/balances").json()}
        return orders, balances

    async def scenario():
        producer.start()
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        ws = await connected(user)
        orders, balances = await call(rest_state)
        await asyncio.get_running_loop().run_in_executor(None, producer.join)
        assert await call(publisher().flush, 10)
        events = []
        while not await ws.receive_nothing(timeout=1):
            events.append(await ws.receive_json_from())
        await ws.disconnect()
        return orders, balances, events

    orders, balances, events = asyncio.run(scenario())
    assert 0 < len([s for s in orders.values()]) < 2 * ROUNDS, "the client subscribed in the middle of the rounds"
    for pushed in data(events, "orders"):
        orders[pushed["id"]] = pushed["status"]
    for pushed in data(events, "balances"):
        balances[pushed["currency"]] = pushed
    final = dict(Order.objects.filter(user=user).values_list("pk", "status"))
    assert len(final) == ROUNDS
    assert orders == final
    for wallet in Wallet.objects.filter(user=user).select_related("currency"):
        assert D(balances[wallet.currency.code]["balance"]) == wallet.balance
        assert D(balances[wallet.currency.code]["locked"]) == wallet.locked


@redis_only
def test_presence_expires_unless_refreshed_and_refresh_drops_expired_entries(market, monkeypatch):
    monkeypatch.setattr(presence, "PRESENCE_TTL_SECONDS", 1.0)
    user, gone = UserFactory(), UserFactory()
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = presence_key()
    assert key == settings.REDIS_PUBSUB_NAMESPACE + "ws:presence"
    # A process that crashed long ago left this entry behind.
    client.zadd(key, {str(gone.pk): time.time() - 5})

    async def scenario():
        ws = await connected(user)
        at_ack = await call(present, user)
        await asyncio.sleep(1.3)
        lapsed = await call(present, user)  # the socket is still open, but nobody refreshed
        await socket_presence().refresh()
        refreshed = await call(present, user)
        await ws.disconnect()
        return at_ack, lapsed, refreshed

    assert asyncio.run(scenario()) == (True, False, True)
    assert users_present([gone.pk]) == set()
    assert client.zscore(key, str(gone.pk)) is None, "the refresh removed the expired entry"
    assert client.zscore(key, str(user.pk)) is not None


@redis_only
def test_a_redis_error_while_reading_presence_counts_everyone_present(market, monkeypatch):
    """Fail open: a stale or unknown presence wastes frames, never loses them."""
    user = UserFactory()
    monkeypatch.setattr(presence, "_client", redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    assert users_present([user.pk]) == {user.pk}


@pytest.mark.parametrize(
    ("refresh", "ttl"),
    [("0", "90"), ("-5", "90"), ("nan", "90"), ("soon", "90"), ("30", "45"), ("30", "0"), ("30", "1e9")],
)
def test_presence_timings_are_validated(refresh, ttl, monkeypatch):
    monkeypatch.setenv("WS_PRESENCE_REFRESH_SECONDS", refresh)
    monkeypatch.setenv("WS_PRESENCE_TTL_SECONDS", ttl)
    with pytest.raises(ImproperlyConfigured):
        _presence_seconds()


def test_presence_timings_default_and_parse(monkeypatch):
    monkeypatch.delenv("WS_PRESENCE_REFRESH_SECONDS", raising=False)
    monkeypatch.delenv("WS_PRESENCE_TTL_SECONDS", raising=False)
    assert _presence_seconds() == (30.0, 90.0)
    monkeypatch.setenv("WS_PRESENCE_REFRESH_SECONDS", " 10 ")
    monkeypatch.setenv("WS_PRESENCE_TTL_SECONDS", "20")
    assert _presence_seconds() == (10.0, 20.0)
