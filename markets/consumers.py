"""The WebSocket API ``/ws/v1/``: subscriptions to market data and a trader's own updates.

The consumer only translates: it checks messages, joins and leaves channel-layer
groups, and forwards the frames ``matching.publish`` prepared. Every bad message is
answered with an ``error`` op and the connection stays open.

Authentication is per connection with a simplejwt access token (``auth`` op). It
lasts as long as the token: at its expiry the private channels are dropped with a
``not_authenticated`` error, and sending ``auth`` again with a fresh token before
then extends it without resubscribing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.exceptions
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from matching import publish

from .models import Market

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 16 * 1024
MAX_SUBSCRIPTIONS = 100
MAX_CHANNEL_CHARS = 64
# Inbound messages: a sustained 20 a second, bursts of 50.
RATE_PER_SECOND = 20.0
RATE_BURST = 50.0
# channels-redis forgets group members after ``group_expiry`` (a day by default).
GROUP_REFRESH_SECONDS = 3600.0


@database_sync_to_async
def _market_ids(symbols: list[str]) -> dict[str, int]:
    return dict(Market.objects.filter(symbol__in=symbols).values_list("symbol", "pk"))


@database_sync_to_async
def _authenticate(raw: str) -> tuple[int, float]:
    """Return (user id, token expiry epoch seconds), the same checks as the REST API."""
    auth = JWTAuthentication()
    token = auth.get_validated_token(raw.encode())
    user = auth.get_user(token)
    return user.pk, float(token["exp"])


_last_layer_log = 0.0


def _log_layer_error(exc: Exception) -> None:
    global _last_layer_log
    now = time.monotonic()
    if now - _last_layer_log > 60:
        _last_layer_log = now
        logger.warning("channel layer read failed (%s); retrying", exc)


class MessageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ExchangeConsumer(AsyncWebsocketConsumer):
    # channels assigns ``self.channel_receive`` (the channel-layer read) when the
    # consumer starts; wrap it so a Redis timeout or restart is retried instead of
    # closing every WebSocket of the process. (redis-py 8 reads time out after 5 s,
    # exactly channels-redis' BZPOPMIN wait, so an idle process hits it routinely
    # unless the layer's ``socket_timeout`` is raised.)
    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict]]:
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict]]) -> None:
        async def resilient() -> dict:
            delay = 0.05
            while True:
                try:
                    return await receive()
                except (redis.exceptions.TimeoutError, redis.exceptions.ConnectionError) as exc:
                    _log_layer_error(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

        self._channel_receive = resilient

    async def connect(self) -> None:
        # channel name -> channel-layer group ("orders" -> "user.7")
        self.subscriptions: dict[str, str] = {}
        self.user_id: int | None = None
        self.token_expiry = 0.0
        self.expiry_timer: asyncio.TimerHandle | None = None
        self.allowance = RATE_BURST
        self.allowance_at = time.monotonic()
        self.refresher: asyncio.Task | None = None
        publish.server_loop_set(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        if self.refresher is not None:
            self.refresher.cancel()
        for group in set(self.subscriptions.values()):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.subscriptions = {}

    # -- client messages --------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            if not self._allow():
                raise MessageError("throttled", f"More than {RATE_PER_SECOND:g} messages a second; slow down.")
            if text_data is None:
                raise MessageError("invalid_message", "Send JSON in text frames.")
            if len(text_data) > MAX_MESSAGE_CHARS:
                raise MessageError("message_too_large", f"Messages are limited to {MAX_MESSAGE_CHARS} characters.")
            try:
                message = json.loads(text_data)
            except ValueError:
                raise MessageError("invalid_json", "The message is not valid JSON.") from None
            if not isinstance(message, dict):
                raise MessageError("invalid_message", "The message must be a JSON object with an op.")
            op = message.get("op")
            if op == "ping":
                await self._send({"op": "pong"})
            elif op == "subscribe":
                await self._subscribe(self._channels(message))
            elif op == "unsubscribe":
                await self._unsubscribe(self._channels(message))
            elif op == "auth":
                await self._auth(message.get("token"))
            else:
                raise MessageError("unknown_op", "op must be one of subscribe, unsubscribe, auth, ping.")
        except MessageError as exc:
            await self._send({"op": "error", "code": exc.code, "message": exc.message})

    def _allow(self) -> bool:
        now = time.monotonic()
        self.allowance = min(RATE_BURST, self.allowance + (now - self.allowance_at) * RATE_PER_SECOND)
        self.allowance_at = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    @staticmethod
    def _channels(message: dict[str, Any]) -> list[str]:
        channels = message.get("channels")
        if (
            not isinstance(channels, list)
            or not channels
            or len(channels) > MAX_SUBSCRIPTIONS
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_CHANNEL_CHARS for c in channels)
        ):
            raise MessageError("invalid_message", f"channels must be a list of 1 to {MAX_SUBSCRIPTIONS} channel names.")
        return list(dict.fromkeys(channels))

    @staticmethod
    def _parse(channel: str) -> tuple[str, str | None]:
        """Split a channel name into (kind, symbol); symbol is None for a private channel."""
        if channel in publish.PRIVATE_CHANNELS:
            return channel, None
        kind, sep, symbol = channel.partition(":")
        if not sep or kind not in publish.PUBLIC_KINDS:
            raise MessageError(
                "unknown_channel",
                f"Unknown channel {channel!r}: use trades:S, depth:S, ticker:S, orders, fills or balances.",
            )
        return kind, symbol

    async def _subscribe(self, channels: list[str]) -> None:
        await self._expire()
        # All or nothing: check every name before joining anything.
        parsed = {channel: self._parse(channel) for channel in channels}
        if self.user_id is None:
            for channel, (_, symbol) in parsed.items():
                if symbol is None:
                    raise MessageError(
                        "not_authenticated", f"Send auth with an access token before subscribing {channel}."
                    )
        symbols = sorted({symbol for _, symbol in parsed.values() if symbol is not None})
        market_ids = await _market_ids(symbols) if symbols else {}
        wanted: dict[str, str] = {}
        for channel, (kind, symbol) in parsed.items():
            if symbol is None:
                wanted[channel] = publish.user_group(self.user_id)
            elif symbol in market_ids:
                wanted[channel] = publish.public_group(kind, market_ids[symbol])
            else:
                raise MessageError("unknown_market", f"Unknown market {symbol!r} in {channel!r}.")
        if len(self.subscriptions.keys() | wanted.keys()) > MAX_SUBSCRIPTIONS:
            raise MessageError(
                "too_many_subscriptions", f"A connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions."
            )
        joined = set(self.subscriptions.values())
        for group in dict.fromkeys(wanted.values()):
            if group not in joined:
                await self.channel_layer.group_add(group, self.channel_name)
        self.subscriptions.update(wanted)
        if self.refresher is None:
            self.refresher = asyncio.create_task(self._refresh_groups())
        await self._send({"op": "subscribed", "channels": channels})

    async def _unsubscribe(self, channels: list[str]) -> None:
        for channel in channels:
            self._parse(channel)
        await self._leave([c for c in channels if c in self.subscriptions])
        await self._send({"op": "unsubscribed", "channels": channels})

    async def _leave(self, channels: list[str]) -> None:
        for channel in channels:
            group = self.subscriptions.pop(channel)
            if group not in self.subscriptions.values():
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _auth(self, token: Any) -> None:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise MessageError("not_authenticated", "auth needs a token: an access JWT.")
        try:
            user_id, expiry = await _authenticate(token)
        except (InvalidToken, AuthenticationFailed, TokenError):
            raise MessageError("not_authenticated", "The token is invalid or expired.") from None
        if self.user_id is not None and user_id != self.user_id:
            raise MessageError(
                "already_authenticated", "This connection belongs to another user; open a new connection."
            )
        self.user_id = user_id
        self.token_expiry = expiry
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        loop = asyncio.get_running_loop()
        self.expiry_timer = loop.call_later(
            max(0.0, expiry - time.time()), lambda: asyncio.ensure_future(self._expire())
        )
        await self._send({"op": "authenticated"})

    async def _expire(self) -> None:
        """If the token ran out: forget the user and drop the private channels."""
        if self.user_id is None or time.time() < self.token_expiry:
            return
        self.user_id = None
        dropped = [c for c in self.subscriptions if c in publish.PRIVATE_CHANNELS]
        await self._leave(dropped)
        await self._send(
            {
                "op": "error",
                "code": "not_authenticated",
                "message": "The access token expired; send auth with a fresh token and subscribe again.",
            }
        )

    async def _refresh_groups(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            for group in set(self.subscriptions.values()):
                await self.channel_layer.group_add(group, self.channel_name)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    # -- events from the publisher ------------------------------------------------------
    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels hops to a thread to close stale DB connections before every handler;
        # forwarding frames touches no database, and that hop per client per event
        # was most of the fan-out time.
        if message["type"] == publish.FRAMES:
            await self.ws_frames(message)
        else:
            await super().dispatch(message)

    async def ws_frames(self, event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if channel is not None:
            if channel in self.subscriptions:
                for frame in event["frames"]:
                    await self.send(text_data=frame)
            return
        if self.user_id is None or event.get("user_id") != self.user_id:
            return
        if time.time() >= self.token_expiry:
            await self._expire()
            return
        for channel, frame in event["private"]:
            if channel in self.subscriptions:
                await self.send(text_data=frame)
