"""The /ws/v1/ protocol against the consumer itself: ops, errors, auth, limits."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from realtime import consumers, frames
from realtime.routing import websocket_urlpatterns
from tests.factories import MarketFactory, UserFactory

from .helpers import access_token, expired_token, forged_token, refresh_token

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


async def opened() -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws/v1/")
    connected, _ = await ws.connect()
    assert connected
    return ws


async def ask(ws: WebsocketCommunicator, message) -> dict:
    if isinstance(message, bytes):
        await ws.send_to(bytes_data=message)
    elif isinstance(message, str):
        await ws.send_to(text_data=message)
    else:
        await ws.send_json_to(message)
    return await ws.receive_json_from(timeout=5)


async def still_open(ws: WebsocketCommunicator) -> None:
    assert await ask(ws, {"op": "ping"}) == {"op": "pong"}


def test_ping_answers_pong():
    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "ping"}) == {"op": "pong"}
        await ws.disconnect()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json {", "invalid_json"),
        ("   ", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('"subscribe"', "invalid_message"),
        ("null", "invalid_message"),
        ("{}", "unknown_op"),
        ('{"op": "dance"}', "unknown_op"),
        ('{"op": ["ping"]}', "unknown_op"),
        ('{"op": "subscribe"}', "invalid_message"),
        ('{"op": "subscribe", "channels": "trades:BTC-USDT"}', "invalid_message"),
        ('{"op": "subscribe", "channels": []}', "invalid_message"),
        ('{"op": "subscribe", "channels": [1]}', "invalid_message"),
        ('{"op": "subscribe", "channels": [{"a": 1}]}', "invalid_message"),
        ('{"op": "subscribe", "channels": ["' + "x" * 65 + '"]}', "invalid_message"),
        ('{"op": "subscribe", "channels": ["candles:BTC-USDT"]}', "unknown_channel"),
        ('{"op": "subscribe", "channels": ["trades"]}', "unknown_channel"),
        ('{"op": "subscribe", "channels": ["trades:NOPE-USDT"]}', "unknown_market"),
        ('{"op": "subscribe", "channels": ["trades:"]}', "unknown_market"),
        ('{"op": "unsubscribe", "channels": ["nothing"]}', "unknown_channel"),
        ('{"op": "auth"}', "not_authenticated"),
        ('{"op": "auth", "token": 42}', "not_authenticated"),
        ('{"op": "subscribe", "channels": ["orders"]}', "not_authenticated"),
        ("x" * (consumers.MAX_MESSAGE_CHARS + 1), "message_too_large"),
        (b"\x00\x01binary", "invalid_message"),
    ],
)
def test_a_bad_message_answers_an_error_and_keeps_the_connection(frame, code):
    MarketFactory()

    async def scenario():
        ws = await opened()
        answer = await ask(ws, frame)
        assert answer["op"] == "error"
        assert answer["code"] == code
        assert answer["message"]
        assert set(answer) == {"op", "code", "message"}
        await still_open(ws)
        await ws.disconnect()

    asyncio.run(scenario())


def test_subscribe_and_unsubscribe_echo_the_channels_and_are_idempotent():
    MarketFactory()
    channels = ["trades:BTC-USDT", "depth:BTC-USDT", "ticker:BTC-USDT"]

    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "subscribe", "channels": channels}) == {"op": "subscribed", "channels": channels}
        assert await ask(ws, {"op": "subscribe", "channels": channels[:1]}) == {
            "op": "subscribed",
            "channels": channels[:1],
        }
        assert await ask(ws, {"op": "unsubscribe", "channels": channels}) == {
            "op": "unsubscribed",
            "channels": channels,
        }
        # Unsubscribing what is not subscribed is not an error.
        assert await ask(ws, {"op": "unsubscribe", "channels": ["ticker:BTC-USDT", "orders"]}) == {
            "op": "unsubscribed",
            "channels": ["ticker:BTC-USDT", "orders"],
        }
        await ws.disconnect()

    asyncio.run(scenario())


def test_an_unknown_market_among_good_channels_is_named_in_the_error():
    MarketFactory()

    async def scenario():
        ws = await opened()
        answer = await ask(ws, {"op": "subscribe", "channels": ["trades:BTC-USDT", "trades:ETH-USDT"]})
        assert answer["code"] == "unknown_market"
        assert "ETH-USDT" in answer["message"]
        await still_open(ws)
        await ws.disconnect()

    asyncio.run(scenario())


@pytest.mark.parametrize("make_token", [expired_token, forged_token, refresh_token, lambda u: "not.a.jwt"])
def test_auth_refuses_expired_forged_refresh_and_garbage_tokens(make_token):
    token = make_token(UserFactory())

    async def scenario():
        ws = await opened()
        answer = await ask(ws, {"op": "auth", "token": token})
        assert answer["op"] == "error"
        assert answer["code"] == "not_authenticated"
        refused = await ask(ws, {"op": "subscribe", "channels": ["orders"]})
        assert refused["code"] == "not_authenticated"
        await still_open(ws)
        await ws.disconnect()

    asyncio.run(scenario())


def test_auth_refuses_a_deactivated_user():
    user = UserFactory(is_active=False)

    async def scenario():
        ws = await opened()
        answer = await ask(ws, {"op": "auth", "token": access_token(user)})
        assert answer["code"] == "not_authenticated"
        await ws.disconnect()

    asyncio.run(scenario())


def test_auth_with_an_access_token_opens_the_private_channels():
    user = UserFactory()

    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "auth", "token": access_token(user)}) == {"op": "authenticated"}
        answer = await ask(ws, {"op": "subscribe", "channels": ["orders", "fills", "balances"]})
        assert answer == {"op": "subscribed", "channels": ["orders", "fills", "balances"]}
        # A fresh token of the same user renews the session.
        assert await ask(ws, {"op": "auth", "token": access_token(user)}) == {"op": "authenticated"}
        await ws.disconnect()

    asyncio.run(scenario())


def test_a_connection_cannot_switch_to_another_user():
    alice, bob = UserFactory(), UserFactory()

    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "auth", "token": access_token(alice)}) == {"op": "authenticated"}
        answer = await ask(ws, {"op": "auth", "token": access_token(bob)})
        assert answer["code"] == "already_authenticated"
        await ws.disconnect()

    asyncio.run(scenario())


def test_private_channels_are_dropped_when_the_token_expires():
    user = UserFactory()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=1.5))

    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "auth", "token": str(token)}) == {"op": "authenticated"}
        assert (await ask(ws, {"op": "subscribe", "channels": ["orders"]}))["op"] == "subscribed"
        notice = await ws.receive_json_from(timeout=5)
        assert notice["op"] == "error"
        assert notice["code"] == "not_authenticated"
        refused = await ask(ws, {"op": "subscribe", "channels": ["orders"]})
        assert refused["code"] == "not_authenticated"
        await still_open(ws)
        await ws.disconnect()

    asyncio.run(scenario())


def test_subscriptions_per_connection_are_capped():
    MarketFactory()
    names = [f"M{i}" for i in range(40)]
    for name in names:
        MarketFactory(base__code=name, symbol=f"{name}-USDT")

    async def scenario():
        ws = await opened()
        channels = [f"{kind}:{n}-USDT" for n in names for kind in ("trades", "depth")]
        assert (await ask(ws, {"op": "subscribe", "channels": channels}))["op"] == "subscribed"
        more = [f"ticker:{n}-USDT" for n in names]
        answer = await ask(ws, {"op": "subscribe", "channels": more})
        assert answer["code"] == "too_many_subscriptions"
        assert (await ask(ws, {"op": "subscribe", "channels": more[:20]}))["op"] == "subscribed"
        await ws.disconnect()

    asyncio.run(scenario())


def test_a_flood_of_messages_is_throttled_and_the_connection_recovers():
    async def scenario():
        ws = await opened()
        for _ in range(int(consumers.RATE_BURST) + 10):
            await ws.send_to(text_data='{"op": "ping"}')
        answers = [await ws.receive_json_from(timeout=5) for _ in range(int(consumers.RATE_BURST) + 10)]
        codes = [a.get("code") for a in answers if a["op"] == "error"]
        assert codes
        assert set(codes) == {"throttled"}
        assert sum(a == {"op": "pong"} for a in answers) >= consumers.RATE_BURST
        await asyncio.sleep(1)  # the subject: the rate bucket refills over a second
        await still_open(ws)
        await ws.disconnect()

    asyncio.run(scenario())


def test_error_answers_are_json_objects_with_op_code_message():
    async def scenario():
        ws = await opened()
        await ws.send_to(text_data="{")
        raw = await ws.receive_from(timeout=5)
        assert json.loads(raw).keys() == {"op", "code", "message"}
        await ws.disconnect()

    asyncio.run(scenario())


def test_an_older_order_state_arriving_late_is_not_sent_after_a_newer_one():
    """The web process's `new` push can reach the socket after the matcher's `filled` one."""
    from channels.layers import get_channel_layer

    user = UserFactory()
    group = frames.user_group(user.pk)

    def frame(status: str, version: int) -> list:
        text = json.dumps({"channel": "orders", "event_time": 1, "data": {"id": 7, "status": status}})
        return ["orders", text, [7, version]]

    async def scenario():
        ws = await opened()
        assert await ask(ws, {"op": "auth", "token": access_token(user)}) == {"op": "authenticated"}
        assert (await ask(ws, {"op": "subscribe", "channels": ["orders"]}))["op"] == "subscribed"
        layer = get_channel_layer()
        for status, version in (("filled", 200), ("new", 100), ("filled", 200)):
            message = {"type": frames.FRAMES, "group": group, "user_id": user.pk, "frames": [frame(status, version)]}
            await layer.group_send(group, message)
        received = [(await ws.receive_json_from(timeout=5))["data"]["status"] for _ in range(2)]
        assert received == ["filled", "filled"]
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    asyncio.run(scenario())
