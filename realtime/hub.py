"""One hub per ws process: reads the channel layer once and fans each message out to its sockets.

Sockets do not read the channel layer one by one: the hub (one per process and
event loop) is the member of every group any local socket subscribed to, reads the
layer once and hands each group message to its local sockets. Encode once, write
many: the hub turns a channel's frames into WebSocket frame bytes once and writes
the same bytes to every daphne socket subscribed to it (no per-socket JSON, UTF-8 or
autobahn framing), straight to the socket when nothing is queued for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import weakref
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer

from .frames import percentiles, ws_frame

if TYPE_CHECKING:
    from .consumers import ExchangeConsumer

logger = logging.getLogger(__name__)

STATE_OPEN = 3  # autobahn's WebSocketProtocol.STATE_OPEN
# channels-redis forgets group members after ``group_expiry`` (a day by default).
GROUP_REFRESH_SECONDS = 3600.0
# Bytes a socket may have waiting to be sent before it is closed as a slow consumer.
SEND_QUEUE_MAX_BYTES = int(os.environ.get("WS_SEND_QUEUE_MAX_BYTES", str(1024 * 1024)))
# The hub writes to its sockets at most this long after the first frame of a burst is
# ready: the frames that arrive meanwhile (a batch's trades and its depth diff go out
# as two messages) share one write per socket. Each write costs a system call that,
# on loopback, also pays for the receiving side: the ws processes' main cost.
WRITE_DELAY_SECONDS = float(os.environ.get("WS_WRITE_DELAY_MS", "5")) / 1000
# And at least this long after the previous write round: under a steady flow a socket
# gets at most one write per interval, holding every frame of the interval.
WRITE_INTERVAL_SECONDS = float(os.environ.get("WS_WRITE_INTERVAL_MS", "25")) / 1000
# ... or this many times as long as the last round took, if that is longer: a process
# with thousands of sockets (or starved of CPU) writes bigger rounds less often
# instead of falling behind; its CPU per frame goes down as its load goes up.
WRITE_BUSY_FACTOR = float(os.environ.get("WS_WRITE_BUSY_FACTOR", "4"))


def daphne_protocol(send: Any) -> Any:
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


class HubStats:
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
        self.writes = 0
        self.round_seconds = 0.0

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
            " commit->delivered ms p50 %.1f p99 %.1f max %.1f; %d socket writes in %.0f ms CPU",
            len(self.received),
            self.sockets,
            now - self.since,
            *percentiles(self.received),
            *percentiles(self.delivered),
            self.writes,
            self.round_seconds * 1000,
        )
        self._reset(now)


class Cohort:
    """The daphne sockets routed to exactly the same delivery keys, and what is queued for them.

    A message for a key is appended once to each cohort holding the key; a write round
    joins a cohort's frames once and writes the same bytes to each of its sockets. The
    work per socket is one write per round, whatever the number of messages.
    """

    __slots__ = ("keys", "members", "chunks", "served")

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys
        self.members: dict[ExchangeConsumer, None] = {}
        self.chunks: list[bytes] = []
        # Sockets that got (or must skip) the first n chunks of this round: written
        # early by ``flush_one``, or joined the cohort after those were queued.
        self.served: dict[ExchangeConsumer, int] = {}

    def rest(self, consumer: ExchangeConsumer) -> bytes:
        """The bytes of this round ``consumer`` did not get yet; marks them as got."""
        start = self.served.get(consumer, 0)
        if start >= len(self.chunks):
            return b""
        self.served[consumer] = len(self.chunks)
        return b"".join(self.chunks[start:])


class Hub:
    """Reads the channel layer once for all the process's sockets and fans messages out."""

    def __init__(self) -> None:
        self.stats = HubStats()
        self.layer = get_channel_layer()
        self.channel = ""
        self.members: dict[str, set[ExchangeConsumer]] = {}
        # Delivery key (a channel name, or ``frames.batch_key(channel)``) -> local sockets.
        self.routes: dict[str, dict[ExchangeConsumer, None]] = {}
        # The daphne sockets by the exact set of keys they are routed to; per key, its cohorts.
        self.cohorts: dict[frozenset[str], Cohort] = {}
        self.key_cohorts: dict[str, list[Cohort]] = {}
        # Cohorts with frames queued since the last write round.
        self.dirty: list[Cohort] = []
        # Sockets that are not daphne's (the tests' communicator), per key: channels' send.
        self.others: dict[str, dict[ExchangeConsumer, None]] = {}
        # Bytes for single sockets (private channels) since the last write round.
        self.pending: dict[ExchangeConsumer, list[bytes]] = {}
        self.flush_scheduled = False
        self.last_flush = 0.0
        self.round_seconds = 0.0
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
                    log_layer_error(exc)

    def route(self, key: str, consumer: ExchangeConsumer, *, add: bool) -> None:
        """Route ``key``'s frames to ``consumer`` (or stop), moving it to the cohort of its new key set."""
        _member(self.routes, key, consumer, add=add)
        if consumer.proto is None:
            _member(self.others, key, consumer, add=add)
            return
        old = consumer.cohort
        keys = set(old.keys) if old is not None else set()
        if add:
            keys.add(key)
        else:
            keys.discard(key)
        if old is not None:
            raw = old.rest(consumer)
            if raw:
                consumer.write(raw)  # what was queued under the old keys goes first
            old.served.pop(consumer, None)
            del old.members[consumer]
            if not old.members:
                del self.cohorts[old.keys]
                for k in old.keys:
                    self.key_cohorts[k].remove(old)
                    if not self.key_cohorts[k]:
                        del self.key_cohorts[k]
        consumer.cohort = None
        if not keys:
            return
        frozen = frozenset(keys)
        cohort = self.cohorts.get(frozen)
        if cohort is None:
            cohort = self.cohorts[frozen] = Cohort(frozen)
            for k in frozen:
                self.key_cohorts.setdefault(k, []).append(cohort)
        cohort.members[consumer] = None
        if cohort.chunks:
            cohort.served[consumer] = len(cohort.chunks)  # frames queued before it joined are not its
        consumer.cohort = cohort

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
        interval = max(WRITE_INTERVAL_SECONDS, WRITE_BUSY_FACTOR * self.round_seconds)
        delay = max(WRITE_DELAY_SECONDS, self.last_flush + interval - loop.time())
        if delay > 0:
            loop.call_later(delay, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """A write round: each socket gets everything queued for it in one write."""
        self.flush_scheduled = False
        started = time.thread_time()
        self.last_flush = asyncio.get_running_loop().time()
        dirty, self.dirty = self.dirty, []
        writes = 0
        for cohort in dirty:
            chunks, cohort.chunks = cohort.chunks, []
            served, cohort.served = cohort.served, {}
            raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            # A copy: a slow consumer's close takes it out of the cohort meanwhile.
            members = list(cohort.members)
            writes += len(members)
            if served:
                for consumer in list(served):
                    if served[consumer] < len(chunks):
                        _write_safely(consumer, b"".join(chunks[served[consumer] :]))
                members = [consumer for consumer in members if consumer not in served]
            write_many(members, raw)
        pending, self.pending = self.pending, {}
        for consumer, chunks in pending.items():
            try:
                consumer.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except Exception:
                logger.exception("writing to a WebSocket failed")
        # CPU time, not wall time: a process starved of CPU by others must not slow its own rounds.
        self.round_seconds = time.thread_time() - started
        self.stats.writes += writes
        self.stats.round_seconds += self.round_seconds
        if self.unrecorded:
            for event_time, received_ms, sockets in self.unrecorded:
                self.stats.record(event_time, received_ms, sockets)
            self.unrecorded = []

    def flush_one(self, consumer: ExchangeConsumer) -> None:
        """Write what is queued for one socket now (before a reply, which must not overtake it)."""
        cohort = consumer.cohort
        if cohort is not None and cohort.chunks:
            raw = cohort.rest(consumer)
            if raw:
                consumer.write(raw)
        chunks = self.pending.pop(consumer, None)
        if chunks:
            consumer.write(b"".join(chunks))

    async def _read(self) -> None:
        delay = 0.05
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception as exc:  # noqa: BLE001 - a Redis timeout or restart must not end every socket
                log_layer_error(exc)
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
            except Exception:
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
            sockets += len(consumers)
            cohorts = self.key_cohorts.get(key)
            if cohorts:
                raw = b"".join(ws_frame(text) for text in texts)
                for cohort in cohorts:
                    if not cohort.chunks:
                        self.dirty.append(cohort)
                    cohort.chunks.append(raw)
                if not self.flush_scheduled:
                    self._schedule_flush()
            for consumer in list(self.others.get(key, ())):  # not daphne's: channels' send
                try:
                    await consumer._send_texts(texts)
                except Exception:
                    logger.exception("sending to a WebSocket failed")
        return sockets

    async def _private(self, message: dict[str, Any]) -> int:
        consumers = list(self.members.get(message.get("group", ""), ()))
        for consumer in consumers:
            try:
                await consumer.deliver(message)
            except Exception:
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
                log_layer_error(exc)


def write_many(consumers: list[ExchangeConsumer], raw: bytes) -> None:
    """``consumer.write(raw)`` for each, with the common case inlined: the fan-out's inner loop.

    A socket that is open and has nothing waiting in twisted's buffer gets the bytes
    straight from its socket's ``send`` (the bound method kept at connect); anything
    else (bytes still queued, closing, dropped) takes ``write``, which checks the send
    queue's bound. Per socket that is a few attribute reads and one system call.
    """
    size = len(raw)
    for consumer in consumers:
        transport = consumer.transport
        if (
            consumer.dropped
            or transport._tempDataLen
            or transport.dataBuffer
            or consumer.proto.state != STATE_OPEN
            or transport.disconnecting
            or not transport.connected
        ):
            _write_safely(consumer, raw)
            continue
        try:
            sent = consumer.sock_send(raw)
        except BlockingIOError:
            sent = 0
        except OSError:
            continue  # the connection is gone; twisted notices and disconnects
        if sent != size:
            _write_safely(consumer, raw[sent:])


def _write_safely(consumer: ExchangeConsumer, raw: bytes) -> None:
    try:
        consumer.write(raw)
    except Exception:
        logger.exception("writing to a WebSocket failed")


def _member(table: dict[str, dict[Any, None]], key: str, item: Any, *, add: bool) -> None:
    members = table.get(key)
    if add:
        if members is None:
            members = table[key] = {}
        members[item] = None
    elif members is not None:
        members.pop(item, None)
        if not members:
            del table[key]


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


_last_layer_log = 0.0


def log_layer_error(exc: Exception) -> None:
    """Log channel-layer read errors at most once a minute (a Redis outage would flood the log)."""
    global _last_layer_log
    now = time.monotonic()
    if now - _last_layer_log > 60:
        _last_layer_log = now
        logger.warning("channel layer read failed (%r); retrying", exc)
