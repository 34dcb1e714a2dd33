"""Push committed market data and private updates to WebSocket clients.

The event subscribers (``realtime.subscribers``) snapshot what a batch, a settlement,
a wallet change or a new order needs and queue it here. Building the JSON frames
(``realtime.builders``), reading the ticker and balances and sending to the channel
layer happen in one publisher thread per process, so a slow channel layer or a slow
client never delays matching or a request.

The publisher drains everything queued at once and sends one channel-layer message
per group per round (a list of ready-made WebSocket frames), so a burst of batches
costs one ``group_send`` per group, not one per event. A round goes out in two
steps: trades and depth diffs first (what trading bots wait for), then tickers
(which read the database) and the users' orders, fills and balances. Every channel
stays in order, and within a market a client sees a batch's trades, then its depth
diff, then the ticker that counts them. Groups:

- ``md.trades.<market_id>``, ``md.depth.<market_id>``, ``md.ticker.<market_id>``;
- ``user.<user_id>``: that user's ``orders``, ``fills`` and ``balances`` frames.

A message is ``{"type": "ws.frames", "group": ..., "frames": [[channel, frame], ...]}``
(plus ``user_id`` for a user's group; an ``orders`` frame also carries ``[order_id,
version]``); the per-process hub (``realtime.hub``) hands each frame to the local
sockets subscribed to its channel.

Depth diffs form a chain per market: each diff's ``first_sequence`` is the previous
diff's ``sequence + 1``. A batch that changed no level sends no diff; the next diff
covers its sequences. If a batch is lost (a send failed, another matcher took the
market over), the chain restarts at the next batch's first sequence, which leaves a
gap that tells clients to fetch a new snapshot.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import sys
import threading
import time
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection

from .builders import FrameBuilder
from .frames import percentiles
from .jobs import JOBS, BatchJob, PrivateJob, SettlementJob, market_ids_of

logger = logging.getLogger(__name__)

# Without batches, tickers are re-read this often so the 24 h window still rolls.
TICKER_REFRESH_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 10.0
SWITCH_INTERVAL_SECONDS = 0.001


class _Stats:
    """How long after each batch's commit its trades and depth were handed to the layer."""

    def __init__(self) -> None:
        self.every = float(os.environ.get("WS_PUBLISH_STATS_SECONDS", "60"))
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self.since = now
        self.rounds = 0
        self.lags: list[float] = []
        self.waits: list[float] = []

    def record(self, jobs: list, picked_ms: float) -> None:
        now_ms = time.time() * 1000
        self.rounds += 1
        for job in jobs:
            if isinstance(job, BatchJob):
                self.lags.append(now_ms - job.event_time)
                self.waits.append(picked_ms - job.event_time)
        now = time.monotonic()
        if now - self.since < self.every or not self.lags:
            return
        logger.info(
            "ws-publisher stats: %d batches in %d rounds over %.0f s; commit->sent ms p50 %.1f p99 %.1f max %.1f;"
            " commit->picked ms p50 %.1f p99 %.1f",
            len(self.lags),
            self.rounds,
            now - self.since,
            *percentiles(self.lags),
            *percentiles(self.waits)[:2],
        )
        self._reset(now)


_server_loop: asyncio.AbstractEventLoop | None = None


def server_loop_set(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the web server's event loop (called by the consumer on connect).

    The in-memory channel layer (one-process mode) only works from the loop its
    consumers run on, so the publisher sends there instead of on its own loop.
    """
    global _server_loop
    _server_loop = loop


class Publisher(FrameBuilder):
    """The process's publisher thread: drains the queued jobs in rounds and sends their frames."""

    def __init__(self) -> None:
        super().__init__()
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._submitted = 0
        self._done = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stats = _Stats()
        # The thread shares the GIL with a matcher that is busy in Python between its
        # queries; at the default 5 ms switch interval each of the few Redis round
        # trips of a send could wait that long for the GIL.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))
        self._thread = threading.Thread(target=self._run, name="ws-publisher", daemon=True)
        self._thread.start()

    def submit(self, job: BatchJob | SettlementJob | PrivateJob | object) -> None:
        with self._count_lock:
            self._submitted += 1
            self._queue.put(job)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was sent; False on timeout."""
        deadline = time.monotonic() + timeout
        target = self._submitted
        while self._done < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close_connections(self) -> None:
        """Have the thread close its database connection (tests, process exit)."""
        self.submit(_CLOSE)
        self.flush()

    def seal(self, timeout: float = 2.0) -> None:
        """Send what is queued and close every depth chain (before the process stops)."""
        self.submit(_SEAL)
        self.flush(timeout)

    def _run(self) -> None:
        while True:
            due = self._next_flush()
            timeout = TICKER_REFRESH_SECONDS if due is None else max(0.0, due - time.monotonic())
            try:
                items = [self._queue.get(timeout=timeout)]
            except queue.Empty:
                items = [_IDLE if due is None else _FLUSH]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            jobs: list = []
            for item in [*items, None]:
                if isinstance(item, JOBS):
                    jobs.append(item)
                    continue
                try:
                    self._round(jobs)
                    if item is not None:
                        self._control(item)
                except Exception:
                    logger.exception("WebSocket publisher round failed")
                    self._break(market_ids_of(jobs))
                self._done += len(jobs) + (item is not None and item is not _IDLE and item is not _FLUSH)
                jobs = []

    def _next_flush(self) -> float | None:
        """When the earliest held depth diff or trade batch is due (monotonic), or None."""
        held = [c.hold_until for c in self._chains.values() if c.bids or c.asks]
        held += [b.hold_until for b in self._trade_batches.values() if b.trades]
        return min(held) if held else None

    def _control(self, item: object) -> None:
        if item is _CLOSE:
            connection.close()
            return
        if item is _FLUSH:
            groups: dict[str, list[list[str]]] = {}
            for market_id in list(self._chains):
                self._depth_frame(market_id, groups)
            for market_id in list(self._trade_batches):
                self._trade_batch_frame(market_id, groups)
            messages = self._public_messages(groups)
            if messages:
                try:
                    self._send(messages)
                except Exception:
                    logger.exception("sending %d WebSocket messages failed", len(messages))
                    self._break(set(self._chains))
            return
        # Idle or stopping: tell clients the sequences of batches that changed no
        # level, so a restarted matcher's first diff continues the chain.
        messages = self._seal_frames()
        if item is _IDLE:
            try:
                messages += self._tickers_refresh()
            except Exception:
                logger.exception("refreshing tickers failed")
            connection.close()  # idle: give the database connection back
        if messages:
            try:
                self._send(messages)
            except Exception:
                logger.exception("sending %d WebSocket messages failed", len(messages))

    def _round(self, jobs: list) -> None:
        if not self._listening():
            # Nobody can receive them: skip the balance reads and serializers. (Batches
            # still go through, to keep the depth chains.)
            jobs = [job for job in jobs if not isinstance(job, PrivateJob)]
        if not jobs:
            return
        picked_ms = time.time() * 1000
        market_ids = market_ids_of(jobs)
        # Trades and depth first: they are what trading bots wait for. The ticker (DB
        # reads) and the private updates (serializers, balance reads) follow.
        for phase in (self._build_market_data, self._build_updates):
            market_data = phase == self._build_market_data
            try:
                messages = phase(jobs)
                if messages:
                    self._send(messages)
            except Exception:
                logger.exception("publishing WebSocket events failed")
                if market_data:
                    # Clients see the depth gap and resync.
                    self._break(market_ids)
                else:
                    for market_id in market_ids:
                        self._tickers.pop(market_id, None)
                connection.close()  # a broken DB connection is reopened next round
                return
            if market_data:
                self._stats.record(jobs, picked_ms)

    # -- sending ----------------------------------------------------------------------
    @staticmethod
    def _listening() -> bool:
        """False when no client can be reached: no layer, or an in-memory one before any WebSocket."""
        layer = get_channel_layer()
        if layer is None:
            return False
        if isinstance(layer, InMemoryChannelLayer):
            return _server_loop is not None and _server_loop.is_running()
        return True

    def _send(self, messages: list[tuple[str, dict]]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            loop = _server_loop
            if loop is None or not loop.is_running():
                return  # no WebSocket was ever opened in this process: nobody to tell
            asyncio.run_coroutine_threadsafe(_send_all(layer, messages), loop).result(SEND_TIMEOUT_SECONDS)
            return
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(asyncio.wait_for(_send_all(layer, messages), SEND_TIMEOUT_SECONDS))


async def _send_all(layer: Any, messages: list[tuple[str, dict]]) -> None:
    # A market's groups one after the other (its trades reach a client on several of
    # its channels before the depth diff of the same batch); markets and users'
    # groups concurrently. Each group gets at most one message per round and rounds
    # go out one after the other, so every channel stays in order.
    by_market: dict[str, list[tuple[str, dict]]] = {}
    others = []
    for group, message in messages:
        if group.startswith("md."):
            by_market.setdefault(group.rsplit(".", 1)[1], []).append((group, message))
        else:
            others.append(layer.group_send(group, message))

    async def in_order(items: list[tuple[str, dict]]) -> None:
        for group, message in items:
            await layer.group_send(group, message)

    results = await asyncio.gather(*(in_order(items) for items in by_market.values()), *others, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]


_CLOSE, _SEAL, _IDLE, _FLUSH = object(), object(), object(), object()
_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    """The process's publisher, started on first use (and again after a fork)."""
    global _publisher
    current = _publisher
    if current is not None and current.pid == os.getpid():
        return current
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = Publisher()
        return _publisher


@atexit.register
def _flush_at_exit() -> None:
    if _publisher is not None and _publisher.pid == os.getpid():
        _publisher.seal(timeout=2.0)
        _publisher.close_connections()
