"""The WebSocket API ``/ws/v1/``: subscriptions to market data and a trader's own updates.

The consumer only translates: it checks messages, joins and leaves channel-layer
groups, and forwards the frames ``matching.publish`` prepared. Every bad message is
answered with an ``error`` op and the connection stays open.

Sockets do not read the channel layer one by one: one ``_Hub`` per process (and
event loop) is the member of every group any local socket subscribed to, reads the
layer once and hands each group message to its local sockets. Encode once, write
many: the hub turns a channel's frames into WebSocket frame bytes once and writes
the same bytes to every daphne socket subscribed to it (no per-socket JSON, UTF-8 or
autobahn framing), straight to the socket when nothing is queued for it.

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
import functools
import json
import logging
import os
import time
import weakref
from collections.abc import Awaitable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
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
# Bytes a socket may have waiting to be sent before it is closed as a slow consumer.
SEND_QUEUE_MAX_BYTES = int(os.environ.get("WS_SEND_QUEUE_MAX_BYTES", str(1024 * 1024)))
# The hub writes to its sockets at most this long after the first frame of a burst is
# ready: the frames that arrive meanwhile (a batch's trades and its depth diff go out
# as two messages) share one write per socket. Each write costs a system call that,
# on loopback, also pays for the receiving side: the ws processes' main cost.
WRITE_DELAY_SECONDS = float(os.environ.get("WS_WRITE_DELAY_MS", "5")) / 1000
SLOW_CONSUMER_CODE = 4008
# Order versions one socket remembers (its owner's most recently changed orders).
ORDER_VERSIONS_REMEMBERED = 1000
SLOW_CONSUMER_REASON = "slow consumer: send queue full"
# How long a slow consumer has to read up to the close frame before the TCP connection is cut.
SLOW_CONSUMER_GRACE_SECONDS = 5.0
STATE_OPEN = 3  # autobahn's WebSocketProtocol.STATE_OPEN


def ws_frame(text: str) -> bytes:
    """One unmasked server text frame (RFC 6455 5.2), built once and written to many sockets."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def _daphne_protocol(send: Any) -> Any:
    """The daphne (autobahn) protocol behind a consumer's ``send``, or None (tests' communicator)."""
    # daphne passes ``partial(server.handle_reply, protocol)`` and channels' routers pass it on unchanged.
    if not isinstance(send, functools.partial) or not send.args:
        return None
    proto = send.args[0]
    transport = getattr(proto, "transport", None)
    if (
        getattr(proto, "sendClose", None) is None
        or getattr(proto, "_perMessageCompress", None) is not None
        or not hasattr(transport, "_tempDataLen")
        or getattr(transport, "TLS", False)
    ):
        return None  # compressed or TLS: frames must go through autobahn
    return proto


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


class _HubStats:
    """How long after its commit a market-data message reached the hub and its sockets.

    Logged every ``WS_HUB_STATS_SECONDS`` of activity (60 by default, 0 turns it off),
    beside the publisher's line in the matcher's log: together they split the
    commit-to-client latency into commit to Redis, Redis to this process, and the
    fan-out to its sockets.
    """

    def __init__(self) -> None:
        self.every = float(os.environ.get("WS_HUB_STATS_SECONDS", "60"))
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self.since = now
        self.received: list[float] = []
        self.delivered: list[float] = []
        self.sockets = 0

    @staticmethod
    def event_time(message: dict[str, Any]) -> int | None:
        """The commit time (epoch ms) carried by the first frame, found without parsing it all."""
        frames = message.get("frames") or ()
        if not frames or not str(message.get("group", "")).startswith("md."):
            return None
        text = frames[0][1]
        start = text.find('"event_time":')
        if start < 0:
            return None
        start += len('"event_time":')
        end = start
        while end < len(text) and text[end] in " 0123456789":
            end += 1
        digits = text[start:end].strip()
        return int(digits) if digits else None

    def record(self, event_time: int, received_ms: float, sockets: int) -> None:
        now_ms = time.time() * 1000
        self.received.append(received_ms - event_time)
        self.delivered.append(now_ms - event_time)
        self.sockets += sockets
        now = time.monotonic()
        if now - self.since < self.every:
            return
        logger.info(
            "ws-hub stats: %d messages to %d sockets over %.0f s; commit->received ms p50 %.1f p99 %.1f max %.1f;"
            " commit->delivered ms p50 %.1f p99 %.1f max %.1f",
            len(self.received),
            self.sockets,
            now - self.since,
            *publish.percentiles(self.received),
            *publish.percentiles(self.delivered),
        )
        self._reset(now)


class _Hub:
    """Reads the channel layer once for all the process's sockets and fans messages out."""

    def __init__(self) -> None:
        self.stats = _HubStats()
        self.layer = get_channel_layer()
        self.channel = ""
        self.members: dict[str, set[ExchangeConsumer]] = {}
        # Delivery key (a channel name, or ``publish.batch_key(channel)``) -> local sockets.
        self.routes: dict[str, dict[ExchangeConsumer, None]] = {}
        # Bytes for each socket from the messages read since the last flush: the hub
        # reads every message already waiting before the loop runs the flush, so a
        # socket gets one write per burst (a round's trades and depth diff together).
        self.pending: dict[ExchangeConsumer, list[bytes]] = {}
        self.flush_scheduled = False
        self.unrecorded: list[tuple[int, float, int]] = []
        # Membership changes are rare and must reach Redis in order (a discard
        # overtaking a later add would silently unsubscribe the process).
        self.lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []

    async def join(self, group: str, consumer: ExchangeConsumer) -> None:
        """Return once messages to ``group`` reach ``consumer``."""
        async with self.lock:
            if not self.channel:
                self.channel = await self.layer.new_channel()
                self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._refresh())]
            members = self.members.get(group)
            if members is None:
                await self.layer.group_add(group, self.channel)
                members = self.members[group] = set()
            members.add(consumer)

    async def leave(self, group: str, consumer: ExchangeConsumer) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(consumer)
            if not members:
                del self.members[group]
                try:
                    await self.layer.group_discard(group, self.channel)
                except Exception as exc:  # noqa: BLE001 - messages for it are ignored; it expires
                    _log_layer_error(exc)

    def route(self, key: str, consumer: ExchangeConsumer, *, add: bool) -> None:
        sockets = self.routes.get(key)
        if add:
            if sockets is None:
                sockets = self.routes[key] = {}
            sockets[consumer] = None
        elif sockets is not None:
            sockets.pop(consumer, None)
            if not sockets:
                del self.routes[key]

    def queue(self, consumer: ExchangeConsumer, raw: bytes) -> None:
        chunks = self.pending.get(consumer)
        if chunks is None:
            self.pending[consumer] = [raw]
        else:
            chunks.append(raw)
        if not self.flush_scheduled:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        self.flush_scheduled = True
        loop = asyncio.get_running_loop()
        if WRITE_DELAY_SECONDS > 0:
            loop.call_later(WRITE_DELAY_SECONDS, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        pending, self.pending = self.pending, {}
        for consumer, chunks in pending.items():
            try:
                consumer.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except Exception:  # noqa: BLE001 - one socket's failure is not the others'
                logger.exception("writing to a WebSocket failed")
        if self.unrecorded:
            for event_time, received_ms, sockets in self.unrecorded:
                self.stats.record(event_time, received_ms, sockets)
            self.unrecorded = []

    def flush_one(self, consumer: ExchangeConsumer) -> None:
        chunks = self.pending.pop(consumer, None)
        if chunks:
            consumer.write(b"".join(chunks))

    async def _read(self) -> None:
        delay = 0.05
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception as exc:  # noqa: BLE001 - a Redis timeout or restart must not end every socket
                _log_layer_error(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            received_ms = time.time() * 1000
            try:
                if "user_id" in message:
                    sockets = await self._private(message)
                else:
                    sockets = await self._public(message)
            except Exception:  # noqa: BLE001 - the hub must outlive any bad message
                logger.exception("fanning out a channel-layer message failed")
                continue
            if self.stats.every > 0 and sockets:
                event_time = self.stats.event_time(message)
                if event_time is not None:
                    self.unrecorded.append((event_time, received_ms, sockets))
                    if not self.flush_scheduled:
                        self.flush()

    async def _public(self, message: dict[str, Any]) -> int:
        """Write each channel's frames, encoded once, to every local socket routed to it."""
        by_key: dict[str, list[str]] = {}
        for key, text in message["frames"]:
            by_key.setdefault(key, []).append(text)
        sockets = 0
        for key, texts in by_key.items():
            consumers = self.routes.get(key)
            if not consumers:
                continue
            raw = b"".join(ws_frame(text) for text in texts)
            pending = self.pending
            others: list[ExchangeConsumer] = []
            for consumer in consumers:
                if consumer.proto is None:
                    others.append(consumer)
                elif not consumer.dropped:
                    chunks = pending.get(consumer)
                    if chunks is None:
                        pending[consumer] = [raw]
                    else:
                        chunks.append(raw)
            if pending and not self.flush_scheduled:
                self._schedule_flush()
            sockets += len(consumers)
            for consumer in others:  # not daphne (the tests' communicator): channels' send
                try:
                    await consumer._send_texts(texts)
                except Exception:  # noqa: BLE001 - one socket's failure is not the others'
                    logger.exception("sending to a WebSocket failed")
        return sockets

    async def _private(self, message: dict[str, Any]) -> int:
        consumers = list(self.members.get(message.get("group", ""), ()))
        for consumer in consumers:
            try:
                await consumer.deliver(message)
            except Exception:  # noqa: BLE001 - one socket's failure is not the others'
                logger.exception("forwarding to a WebSocket failed")
        return len(consumers)

    async def _refresh(self) -> None:
        # channels-redis forgets group members after ``group_expiry``.
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            try:
                async with self.lock:
                    for group in self.members:
                        await self.layer.group_add(group, self.channel)
            except Exception as exc:  # noqa: BLE001 - tried again next time
                _log_layer_error(exc)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = _Hub()
    return hub


_last_layer_log = 0.0


def _log_layer_error(exc: Exception) -> None:
    """Log channel-layer read errors at most once a minute (a Redis outage would flood the log)."""
    global _last_layer_log
    now = time.monotonic()
    if now - _last_layer_log > 60:
        _last_layer_log = now
        logger.warning("channel layer read failed (%r); retrying", exc)


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
        # channel name -> the hub's delivery key (``publish.batch_key`` for batched trades)
        self.keys: dict[str, str] = {}
        self.proto = _daphne_protocol(self.base_send)
        if self.proto is not None:
            # One write per burst, each wanted at once: Nagle's algorithm would hold a
            # write behind the client's delayed ACK of the previous one (up to 40 ms).
            self.proto.transport.setTcpNoDelay(True)
        self.dropped = False
        # order id -> the newest version sent on ``orders``: a new order's push (web
        # process) can arrive after the matcher's update (another process); never send
        # an older state after a newer one.
        self.order_versions: dict[int, int] = {}
        self.user_id: int | None = None
        self.token_expiry = 0.0
        self.expiry_timer: asyncio.TimerHandle | None = None
        self.allowance = RATE_BURST
        self.allowance_at = time.monotonic()
        publish.server_loop_set(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        self.dropped = True
        hub = _hub()
        for key in self.keys.values():
            hub.route(key, self, add=False)
        self.keys = {}
        for group in set(self.subscriptions.values()):
            await hub.leave(group, self)
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
        if channel in publish.PRIVATE_CHANNELS:
            return channel, None
        kind, sep, symbol = channel.partition(":")
        if not sep or kind not in publish.PUBLIC_KINDS:
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
        hub = _hub()
        added: list[str] = []
        try:
            for group in dict.fromkeys(wanted.values()):
                if group not in joined:
                    await hub.join(group, self)
                    added.append(group)
        except Exception as exc:  # noqa: BLE001 - the channel layer (Redis) is down
            _log_layer_error(exc)
            for group in added:
                await hub.leave(group, self)
            raise MessageError("unavailable", "Subscriptions are unavailable right now; try again shortly.") from None
        self.subscriptions.update(wanted)
        for channel, (kind, _) in parsed.items():
            key = publish.batch_key(channel) if batch and kind == "trades" else channel
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
        hub = _hub()
        for channel in channels:
            group = self.subscriptions.pop(channel)
            hub.route(self.keys.pop(channel), self, add=False)
            if group not in self.subscriptions.values():
                await hub.leave(group, self)

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

    async def _send(self, message: dict[str, Any]) -> None:
        if self.proto is not None:
            _hub().flush_one(self)  # what the hub queued for this socket goes first
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
            _hub().queue(self, raw)
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
        hub = _hub()
        for key in self.keys.values():
            hub.route(key, self, add=False)
        logger.info("closing a slow WebSocket consumer (%d bytes queued)", queued)
        proto = self.proto
        # The close frame waits behind what is queued; a client that reads again gets it.
        proto.closeHandshakeTimeout = SLOW_CONSUMER_GRACE_SECONDS
        proto.sendClose(code=SLOW_CONSUMER_CODE, reason=SLOW_CONSUMER_REASON)
