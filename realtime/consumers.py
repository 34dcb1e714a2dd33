"""The WebSocket API ``/ws/v1/``: subscriptions to market data and a trader's own updates.

The consumer only translates: it checks messages, joins and leaves channel-layer
groups (through the process's hub, ``realtime.hub``), and forwards the frames the
publisher (``realtime.publisher``) prepared. Every bad message is answered with an
``error`` op and the connection stays open.

Each socket's send queue is bounded (``WS_SEND_QUEUE_MAX_BYTES``): a subscriber that
cannot keep up is closed with code 4008 rather than allowed to grow the process's
memory; the others never wait for it.

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
from collections.abc import Awaitable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from markets.models import Market

from .frames import PRIVATE_CHANNELS, PUBLIC_KINDS, batch_key, public_group, user_group, ws_frame
from .hub import SEND_QUEUE_MAX_BYTES, STATE_OPEN, Cohort, daphne_protocol, log_layer_error
from .hub import hub as process_hub
from .presence import socket_presence
from .publisher import server_loop_set

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 16 * 1024
MAX_SUBSCRIPTIONS = 100
MAX_CHANNEL_CHARS = 64
# Inbound messages: a sustained 20 a second, bursts of 50.
RATE_PER_SECOND = 20.0
RATE_BURST = 50.0
SLOW_CONSUMER_CODE = 4008
# Order versions one socket remembers (its owner's most recently changed orders).
ORDER_VERSIONS_REMEMBERED = 1000
SLOW_CONSUMER_REASON = "slow consumer: send queue full"
# How long a slow consumer has to read up to the close frame before the TCP connection is cut.
SLOW_CONSUMER_GRACE_SECONDS = 5.0


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


class MessageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ExchangeConsumer(AsyncWebsocketConsumer):
    # No channel of its own: the process's hub reads the layer for every socket
    # (``get_channel_layer`` returns None for an alias that is not configured).
    channel_layer_alias = "ws-sockets-read-through-the-hub"

    async def connect(self) -> None:
        # channel name -> channel-layer group ("orders" -> "user.7")
        self.subscriptions: dict[str, str] = {}
        # channel name -> the hub's delivery key (``batch_key`` for batched trades)
        self.keys: dict[str, str] = {}
        self.proto = daphne_protocol(self.base_send)
        if self.proto is not None:
            # One write per burst, each wanted at once: Nagle's algorithm would hold a
            # write behind the client's delayed ACK of the previous one (up to 40 ms).
            self.proto.transport.setTcpNoDelay(True)
            # The hub's fan-out loop (``hub.write_many``) reads these for every write.
            self.transport = self.proto.transport
            self.sock_send = self.transport.socket.send
        self.dropped = False
        # The hub's group of sockets routed to the same keys as this one (daphne sockets only).
        self.cohort: Cohort | None = None
        # order id -> the newest version sent on ``orders``: a new order's push (web
        # process) can arrive after the matcher's update (another process); never send
        # an older state after a newer one.
        self.order_versions: dict[int, int] = {}
        self.user_id: int | None = None
        # The user this socket counts as present for (``realtime.presence``) while it
        # holds a private channel.
        self.present_as: int | None = None
        self.token_expiry = 0.0
        self.expiry_timer: asyncio.TimerHandle | None = None
        self.allowance = RATE_BURST
        self.allowance_at = time.monotonic()
        server_loop_set(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        self.dropped = True
        hub = process_hub()
        for key in self.keys.values():
            hub.route(key, self, add=False)
        self.keys = {}
        for group in set(self.subscriptions.values()):
            await hub.leave(group, self)
        self.subscriptions = {}
        self._absent()

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
                batch = message.get("batch", False)
                if not isinstance(batch, bool):
                    raise MessageError("invalid_message", "batch must be true or false.")
                await self._subscribe(self._channels(message), batch=batch)
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
        if channel in PRIVATE_CHANNELS:
            return channel, None
        kind, sep, symbol = channel.partition(":")
        if not sep or kind not in PUBLIC_KINDS:
            raise MessageError(
                "unknown_channel",
                f"Unknown channel {channel!r}: use trades:S, depth:S, ticker:S, orders, fills or balances.",
            )
        return kind, symbol

    async def _subscribe(self, channels: list[str], *, batch: bool = False) -> None:
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
                wanted[channel] = user_group(self.user_id)
            elif symbol in market_ids:
                wanted[channel] = public_group(kind, market_ids[symbol])
            else:
                raise MessageError("unknown_market", f"Unknown market {symbol!r} in {channel!r}.")
        if len(self.subscriptions.keys() | wanted.keys()) > MAX_SUBSCRIPTIONS:
            raise MessageError(
                "too_many_subscriptions", f"A connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions."
            )
        joined = set(self.subscriptions.values())
        hub = process_hub()
        added: list[str] = []
        try:
            for group in dict.fromkeys(wanted.values()):
                if group not in joined:
                    await hub.join(group, self)
                    added.append(group)
            if self.present_as is None and any(symbol is None for _, symbol in parsed.values()):
                # Before the acknowledgement: a batch the publisher skips for a user not yet
                # present was committed before this, so a REST read after it shows it.
                await socket_presence().enter(self.user_id)
                self.present_as = self.user_id
        except Exception as exc:  # noqa: BLE001 - the channel layer (Redis) is down
            log_layer_error(exc)
            for group in added:
                await hub.leave(group, self)
            raise MessageError("unavailable", "Subscriptions are unavailable right now; try again shortly.") from None
        self.subscriptions.update(wanted)
        for channel, (kind, _) in parsed.items():
            key = batch_key(channel) if batch and kind == "trades" else channel
            old = self.keys.get(channel)
            if old != key:
                if old is not None:
                    hub.route(old, self, add=False)
                hub.route(key, self, add=True)
                self.keys[channel] = key
        await self._send({"op": "subscribed", "channels": channels})

    async def _unsubscribe(self, channels: list[str]) -> None:
        for channel in channels:
            self._parse(channel)
        await self._leave([c for c in channels if c in self.subscriptions])
        await self._send({"op": "unsubscribed", "channels": channels})

    async def _leave(self, channels: list[str]) -> None:
        hub = process_hub()
        for channel in channels:
            group = self.subscriptions.pop(channel)
            hub.route(self.keys.pop(channel), self, add=False)
            if group not in self.subscriptions.values():
                await hub.leave(group, self)
        if not any(channel in PRIVATE_CHANNELS for channel in self.subscriptions):
            self._absent()

    def _absent(self) -> None:
        """This socket holds no private channel any more: stop counting it as its user's presence."""
        if self.present_as is not None:
            socket_presence().leave(self.present_as)
            self.present_as = None

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
        dropped = [c for c in self.subscriptions if c in PRIVATE_CHANNELS]
        await self._leave(dropped)
        await self._send(
            {
                "op": "error",
                "code": "not_authenticated",
                "message": "The access token expired; send auth with a fresh token and subscribe again.",
            }
        )

    async def _send(self, message: dict[str, Any]) -> None:
        if self.proto is not None:
            process_hub().flush_one(self)  # what the hub queued for this socket goes first
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    # -- events from the publisher, through the hub --------------------------------------
    async def deliver(self, event: dict[str, Any]) -> None:
        """Send the frames of a group message for the channels this socket subscribed."""
        if "user_id" in event:
            if self.user_id is None or event["user_id"] != self.user_id:
                return
            if time.time() >= self.token_expiry:
                # Not awaited: leaving groups talks to Redis, and the hub must not wait.
                asyncio.ensure_future(self._expire())
                return
        subscriptions = self.subscriptions
        texts = [
            item[1]
            for item in event["frames"]
            if item[0] in subscriptions and (len(item) < 3 or self._order_newer(item[2]))
        ]
        if texts:
            pending = self.push(b"".join(ws_frame(text) for text in texts), texts)
            if pending is not None:
                await pending

    def _order_newer(self, version: list[int]) -> bool:
        """Whether an ``orders`` frame (``[order_id, version]``) is not older than the last one sent."""
        order_id, stamp = version
        last = self.order_versions.pop(order_id, None)
        if last is not None and stamp < last:
            self.order_versions[order_id] = last
            return False
        self.order_versions[order_id] = stamp
        if len(self.order_versions) > ORDER_VERSIONS_REMEMBERED:
            del self.order_versions[next(iter(self.order_versions))]
        return True

    def push(self, raw: bytes, texts: list[str]) -> Awaitable | None:
        """Write ready-made frame bytes to the socket (``texts``: the same frames, for channels' send).

        Returns None when written (or dropped); an awaitable when this socket is not
        daphne's and the frames must go through channels' ``send``.
        """
        if self.proto is None:
            return self._send_texts(texts)
        if not self.dropped:
            process_hub().queue(self, raw)
        return None

    def write(self, raw: bytes) -> None:
        """Write bytes to daphne's socket now, or close the socket if too much is waiting already."""
        proto = self.proto
        if self.dropped or proto.state != STATE_OPEN:
            return
        transport = proto.transport
        queued = transport._tempDataLen + len(transport.dataBuffer) - transport.offset
        if queued and queued + len(raw) > SEND_QUEUE_MAX_BYTES:
            # Bytes are still waiting from earlier writes and this one would pass the bound.
            self._drop_slow(queued)
            return
        if not queued and transport.connected and not transport.disconnecting:
            # Nothing waiting: straight to the socket, sparing twisted's writer registration.
            try:
                sent = transport.socket.send(raw)
            except BlockingIOError:
                sent = 0
            except OSError:
                return  # the connection is gone; twisted notices and disconnects
            if sent < len(raw):
                transport.write(raw[sent:])
            return
        transport.write(raw)

    async def _send_texts(self, texts: list[str]) -> None:
        for text in texts:
            await self.send(text_data=text)

    def _drop_slow(self, queued: int) -> None:
        """Close a socket that cannot keep up; its queue stops growing from here."""
        self.dropped = True
        hub = process_hub()
        for key in self.keys.values():
            hub.route(key, self, add=False)
        logger.info("closing a slow WebSocket consumer (%d bytes queued)", queued)
        proto = self.proto
        # The close frame waits behind what is queued; a client that reads again gets it.
        proto.closeHandshakeTimeout = SLOW_CONSUMER_GRACE_SECONDS
        proto.sendClose(code=SLOW_CONSUMER_CODE, reason=SLOW_CONSUMER_REASON)
