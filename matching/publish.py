"""Push committed market data and private updates to WebSocket clients.

The matcher (``matching.runner.after_batch``), settlement
(``wallets.settlement.after_settlement``), the wallet service
(``wallets.services.after_wallets_change``: every other committed balance change) and
``order_place`` (the new order) call the hooks below after their commits. A hook only
snapshots what it needs and queues it: building the JSON frames, reading the ticker
and balances and sending to the channel layer happen in one publisher thread per
process, so a slow channel layer or a slow client never delays matching or a request.

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
version]``); the consumers' per-process hub hands each frame to the local sockets
subscribed to its channel.

Depth diffs form a chain per market: each diff's ``first_sequence`` is the previous
diff's ``sequence + 1``. A batch that changed no level sends no diff; the next diff
covers its sequences. If a batch is lost (a send failed, another matcher took the
market over), the chain restarts at the next batch's first sequence, which leaves a
gap that tells clients to fetch a new snapshot.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection
from django.utils import timezone

from markets.candles import EPOCH
from markets.models import Currency, Market, Order, Trade
from markets.precision import fmt, from_steps, q
from markets.selectors import ticker_get
from matching.market_data import ticker_latest
from trading.serializers import fill_for

logger = logging.getLogger(__name__)

PUBLIC_KINDS = ("trades", "depth", "ticker")
PRIVATE_CHANNELS = ("orders", "fills", "balances")
# Without batches, tickers are re-read this often so the 24 h window still rolls.
TICKER_REFRESH_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 10.0
SWITCH_INTERVAL_SECONDS = 0.001
# Depth diffs of a market are sent at most once per interval (the batches in between
# merge into one diff), and trades batched for the clients that asked for it go out
# once per interval. 0 sends every round's diff and batch at once.
DEPTH_FLUSH_SECONDS = float(os.environ.get("WS_DEPTH_FLUSH_MS", "100")) / 1000
TRADES_BATCH_SECONDS = float(os.environ.get("WS_TRADES_BATCH_MS", "100")) / 1000
# The channel-layer message type (read by the consumers' hub, ``markets.consumers``).
FRAMES = "ws.frames"

_ORDER_ATTNAMES = [f.attname for f in Order._meta.concrete_fields]


def public_group(kind: str, market_id: int) -> str:
    # A group per channel, not per market: daphne processes only get what their
    # sockets subscribed (most batches change depth without trading).
    return f"md.{kind}.{market_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def batch_key(channel: str) -> str:
    """The frames key of a channel's batched frames (``"batch": true`` subscribers get those instead)."""
    return f"{channel}#batch"


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def frame(channel: str, event_time: int, data: dict[str, Any] | list[dict[str, Any]]) -> str:
    """One server event exactly as sent on the socket."""
    return json.dumps({"channel": channel, "event_time": event_time, "data": data}, separators=(",", ":"))


# -- jobs: what the hooks snapshot ------------------------------------------------


@dataclass
class _BatchJob:
    market_id: int
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    first_sequence: int
    sequence: int
    event_time: int
    trades: list[Trade]
    # Attribute snapshots: the matcher keeps mutating its Order objects in later batches.
    orders: list[dict[str, Any]]
    bids: dict[int, int]
    asks: dict[int, int]


@dataclass
class _SettlementJob:
    market_id: int
    event_time: int
    trades: list[Trade]
    wallet_ids: list[int]


@dataclass
class _PrivateJob:
    """A trader's own change made outside the matcher: a new order, changed wallets."""

    event_time: int
    orders: list[dict[str, Any]] = field(default_factory=list)
    wallet_ids: list[int] = field(default_factory=list)


_JOBS = (_BatchJob, _SettlementJob, _PrivateJob)
# How many order ids the publisher remembers from the matcher's batches (see _order_frames).
MATCHED_ORDERS_REMEMBERED = 10_000


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _version(updated_at: datetime) -> int:
    """An order state's version for the sockets: its ``updated_at`` in epoch microseconds."""
    delta = updated_at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def order_data(values: dict[str, Any], symbol: str) -> dict[str, Any]:
    """What ``OrderOut`` renders for an order, from its attribute snapshot.

    The publisher renders every order a batch changed; through the DRF serializer that
    cost more than matching the order (a test keeps the two outputs identical).
    """
    filled_quantity, filled_quote = values["filled_quantity"], values["filled_quote"]
    return {
        "id": values["id"],
        "client_order_id": values["client_order_id"],
        "market": symbol,
        "side": values["side"],
        "type": values["type"],
        "time_in_force": values["time_in_force"],
        "post_only": bool(values["post_only"]),
        "self_trade_prevention": values["self_trade_prevention"],
        "price": None if values["price"] is None else fmt(values["price"]),
        "quantity": None if values["quantity"] is None else fmt(values["quantity"]),
        "quote_quantity": None if values["quote_quantity"] is None else fmt(values["quote_quantity"]),
        "filled_quantity": fmt(filled_quantity),
        "filled_quote": fmt(filled_quote),
        "average_price": fmt(q(filled_quote / filled_quantity)) if filled_quantity else None,
        "status": values["status"],
        "reject_reason": values["reject_reason"],
        "cancel_reason": values["cancel_reason"],
        "created_at": _time(values["created_at"]),
        "updated_at": _time(values["updated_at"]),
    }


def _market_ids(jobs: list) -> set[int]:
    return {job.market_id for job in jobs if not isinstance(job, _PrivateJob)}


def _order_values(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in _ORDER_ATTNAMES}


@dataclass
class _DepthChain:
    """Per market: the last batch seen and the first sequence the next diff must cover."""

    last_sequence: int
    next_first: int
    tick_size: Decimal
    lot_size: Decimal
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    event_time: int = 0
    # monotonic time before which no new diff is sent (the levels keep merging)
    hold_until: float = 0.0


@dataclass
class _TradeBatch:
    """Per market: the trades waiting for the next batched frame."""

    symbol: str
    trades: list[dict[str, Any]] = field(default_factory=list)
    event_time: int = 0
    hold_until: float = 0.0


def batch_publish(result: Any) -> None:
    """After-batch hook of the matcher: queue the batch's public and private events."""
    committed = result.committed_at or timezone.now()
    market = result.market
    orders = [_order_values(order) for order in result.orders]
    publisher().submit(
        _BatchJob(
            market_id=market.pk,
            symbol=market.symbol,
            tick_size=market.tick_size,
            lot_size=market.lot_size,
            first_sequence=result.first_sequence,
            sequence=result.sequence,
            event_time=epoch_ms(committed),
            trades=list(result.trades),
            orders=orders,
            bids=result.depth_bids,
            asks=result.depth_asks,
        )
    )


def settlement_publish(result: Any) -> None:
    """After-settlement hook: queue the fills and the balances it changed."""
    publisher().submit(
        _SettlementJob(
            market_id=result.market_id,
            event_time=epoch_ms(timezone.now()),
            trades=list(result.trades),
            wallet_ids=[w.pk for w in result.wallets],
        )
    )


def wallets_publish(wallet_ids: list[int]) -> None:
    """After-commit hook of the wallet service: queue the balances of the changed wallets.

    Only the ids are queued; the publisher reads the rows when it sends, so the last
    publish of a wallet carries its newest committed balance.
    """
    publisher().submit(_PrivateJob(event_time=epoch_ms(timezone.now()), wallet_ids=wallet_ids))


def order_publish(order: Order) -> None:
    """Queue a new order for its owner's ``orders`` channel (``order_place`` calls this after commit)."""
    publisher().submit(_PrivateJob(event_time=epoch_ms(timezone.now()), orders=[_order_values(order)]))


# -- the publisher thread -------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) of a non-empty list, for the latency lines in the logs."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


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
            if isinstance(job, _BatchJob):
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


class Publisher:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._submitted = 0
        self._done = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chains: dict[int, _DepthChain] = {}
        self._trade_batches: dict[int, _TradeBatch] = {}
        self._tickers: dict[int, str] = {}
        self._markets: dict[int, Market] = {}
        self._currency_codes: dict[int, str] = {}
        # Orders this process published from matcher batches, oldest first (bounded).
        self._matched_orders: dict[int, None] = {}
        self._stats = _Stats()
        # The thread shares the GIL with a matcher that is busy in Python between its
        # queries; at the default 5 ms switch interval each of the few Redis round
        # trips of a send could wait that long for the GIL.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))
        self._thread = threading.Thread(target=self._run, name="ws-publisher", daemon=True)
        self._thread.start()

    def submit(self, job: _BatchJob | _SettlementJob | _PrivateJob | object) -> None:
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
                if isinstance(item, _JOBS):
                    jobs.append(item)
                    continue
                try:
                    self._round(jobs)
                    if item is not None:
                        self._control(item)
                except Exception:  # noqa: BLE001 - the thread must outlive any bug
                    logger.exception("WebSocket publisher round failed")
                    self._break(_market_ids(jobs))
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
                except Exception:  # noqa: BLE001 - clients see the depth gap and resync
                    logger.exception("sending %d WebSocket messages failed", len(messages))
                    self._break(set(self._chains))
            return
        # Idle or stopping: tell clients the sequences of batches that changed no
        # level, so a restarted matcher's first diff continues the chain.
        messages = self._seal_frames()
        if item is _IDLE:
            try:
                messages += self._tickers_refresh()
            except Exception:  # noqa: BLE001 - the next refresh tries again
                logger.exception("refreshing tickers failed")
            connection.close()  # idle: give the database connection back
        if messages:
            try:
                self._send(messages)
            except Exception:  # noqa: BLE001 - clients see the depth gap and resync
                logger.exception("sending %d WebSocket messages failed", len(messages))

    def _round(self, jobs: list) -> None:
        if not self._listening():
            # Nobody can receive them: skip the balance reads and serializers. (Batches
            # still go through, to keep the depth chains.)
            jobs = [job for job in jobs if not isinstance(job, _PrivateJob)]
        if not jobs:
            return
        picked_ms = time.time() * 1000
        market_ids = _market_ids(jobs)
        # Trades and depth first: they are what trading bots wait for. The ticker (DB
        # reads) and the private updates (serializers, balance reads) follow.
        for phase in (self._build_market_data, self._build_updates):
            market_data = phase == self._build_market_data
            try:
                messages = phase(jobs)
                if messages:
                    self._send(messages)
            except Exception:  # noqa: BLE001 - never let one bad round stop publishing
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

    def _break(self, market_ids: set[int]) -> None:
        for market_id in market_ids:
            self._chains.pop(market_id, None)
            self._tickers.pop(market_id, None)
            self._trade_batches.pop(market_id, None)

    # -- building frames ----------------------------------------------------------
    def _build_market_data(self, jobs: list) -> list[tuple[str, dict]]:
        """Trades and depth diffs of the round's batches, in matcher order."""
        groups: dict[str, list[list[str]]] = {}
        markets: list[int] = []
        for job in jobs:
            if isinstance(job, _BatchJob):
                self._trade_frames(job, groups)
                self._depth_merge(job)
                if job.market_id not in markets:
                    markets.append(job.market_id)
        # Also the other markets' held diffs and batches that are due by now.
        for market_id in dict.fromkeys([*markets, *self._chains, *self._trade_batches]):
            self._trade_batch_frame(market_id, groups)
            self._depth_frame(market_id, groups)
        return self._public_messages(groups)

    def _build_updates(self, jobs: list) -> list[tuple[str, dict]]:
        """Tickers, then every user's orders, fills and balances."""
        groups: dict[str, list[list[str]]] = {}
        private: dict[int, list[list[str]]] = {}
        batch_times: dict[int, int] = {}
        # Each wallet once per round, read after every job of the round committed.
        wallet_times: dict[int, int] = {}
        for job in jobs:
            if isinstance(job, _BatchJob):
                self._order_frames(job.orders, job.event_time, private, matched=True)
                batch_times[job.market_id] = job.event_time
                continue
            if isinstance(job, _SettlementJob):
                self._fill_frames(job, private)
            else:
                self._order_frames(job.orders, job.event_time, private, matched=False)
            for wallet_id in job.wallet_ids:
                wallet_times[wallet_id] = max(wallet_times.get(wallet_id, 0), job.event_time)
        if wallet_times:
            self._balance_frames(wallet_times, private)
        for market_id, event_time in batch_times.items():
            self._ticker_frame(market_id, event_time, groups)
        return self._public_messages(groups) + [
            (user_group(user_id), {"type": FRAMES, "group": user_group(user_id), "user_id": user_id, "frames": frames})
            for user_id, frames in private.items()
        ]

    @staticmethod
    def _public_messages(groups: dict[str, list[list[str]]]) -> list[tuple[str, dict]]:
        """One message per group: ``frames`` is a list of [channel, frame] in order."""
        return [(group, {"type": FRAMES, "group": group, "frames": frames}) for group, frames in groups.items()]

    def _market(self, market_id: int) -> Market:
        market = self._markets.get(market_id)
        if market is None:
            market = Market.objects.select_related("base", "quote").get(pk=market_id)
            self._markets[market_id] = market
        return market

    def _trade_frames(self, job: _BatchJob, groups: dict) -> None:
        self._market(job.market_id)
        if not job.trades:
            return
        channel = f"trades:{job.symbol}"
        items = [
            {
                "id": t.pk,
                "price": fmt(t.price),
                "quantity": fmt(t.quantity),
                "taker_side": t.taker_side,
                "time": _time(t.created_at),
            }
            for t in job.trades
        ]
        groups.setdefault(public_group("trades", job.market_id), []).extend(
            [channel, frame(channel, job.event_time, data)] for data in items
        )
        pending = self._trade_batches.get(job.market_id)
        if pending is None:
            pending = self._trade_batches[job.market_id] = _TradeBatch(symbol=job.symbol)
        pending.trades.extend(items)
        pending.event_time = job.event_time

    def _trade_batch_frame(self, market_id: int, groups: dict, *, force: bool = False) -> None:
        """Every trade since the last batched frame, in one frame, at most once per interval."""
        pending = self._trade_batches.get(market_id)
        now = time.monotonic()
        if pending is None or not pending.trades or (now < pending.hold_until and not force):
            return
        channel = f"trades:{pending.symbol}"
        groups.setdefault(public_group("trades", market_id), []).append(
            [batch_key(channel), frame(channel, pending.event_time, pending.trades)]
        )
        pending.trades = []
        pending.hold_until = now + TRADES_BATCH_SECONDS

    def _order_frames(self, snapshots: list[dict], event_time: int, private: dict, *, matched: bool) -> None:
        if matched:
            # A new order's own push can reach this thread after the matcher's batch
            # that took it (the matcher polls too): it must not follow the later status.
            for values in snapshots:
                self._matched_orders[values["id"]] = None
            while len(self._matched_orders) > MATCHED_ORDERS_REMEMBERED:
                del self._matched_orders[next(iter(self._matched_orders))]
        else:
            snapshots = [values for values in snapshots if values["id"] not in self._matched_orders]
        for values in snapshots:
            data = order_data(values, self._market(values["market_id"]).symbol)
            # The third item lets each socket drop a state older than one it already sent.
            version = [values["id"], _version(values["updated_at"])]
            private.setdefault(values["user_id"], []).append(["orders", frame("orders", event_time, data), version])

    def _depth_merge(self, job: _BatchJob) -> None:
        chain = self._chains.get(job.market_id)
        if chain is None or job.first_sequence != chain.last_sequence + 1:
            # First batch seen, or batches this process never saw: start a new chain.
            chain = _DepthChain(
                last_sequence=job.sequence,
                next_first=job.first_sequence,
                tick_size=job.tick_size,
                lot_size=job.lot_size,
            )
            self._chains[job.market_id] = chain
        chain.last_sequence = job.sequence
        chain.event_time = job.event_time
        chain.tick_size, chain.lot_size = job.tick_size, job.lot_size
        for side, levels in ((chain.bids, job.bids), (chain.asks, job.asks)):
            for price, qty in levels.items():
                side[price] = qty

    def _depth_frame(self, market_id: int, groups: dict, *, empty_ok: bool = False, force: bool = False) -> None:
        """The chain's merged levels as one diff, unless one went out less than an interval ago."""
        chain = self._chains.get(market_id)
        if chain is None or not (chain.bids or chain.asks or empty_ok):
            return
        now = time.monotonic()
        if now < chain.hold_until and not force:
            return  # merged into the next diff (a timer in ``_run`` sends it)
        market = self._markets[market_id]
        tick, lot = chain.tick_size, chain.lot_size
        data = {
            "first_sequence": chain.next_first,
            "sequence": chain.last_sequence,
            "bids": [
                [fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in sorted(chain.bids.items(), reverse=True)
            ],
            "asks": [[fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in sorted(chain.asks.items())],
        }
        channel = f"depth:{market.symbol}"
        groups.setdefault(public_group("depth", market_id), []).append(
            [channel, frame(channel, chain.event_time, data)]
        )
        chain.next_first = chain.last_sequence + 1
        chain.bids, chain.asks = {}, {}
        chain.hold_until = now + DEPTH_FLUSH_SECONDS

    def _seal_frames(self) -> list[tuple[str, dict]]:
        groups: dict[str, list[list[str]]] = {}
        for market_id, chain in self._chains.items():
            if chain.next_first <= chain.last_sequence:
                self._depth_frame(market_id, groups, empty_ok=True, force=True)
        for market_id in list(self._trade_batches):
            self._trade_batch_frame(market_id, groups, force=True)
        return self._public_messages(groups)

    def _ticker_frame(self, market_id: int, event_time: int, groups: dict) -> None:
        market = self._market(market_id)
        # The matcher's running 24 h figures when this process matches the market.
        data = ticker_latest(market_id=market_id) or ticker_get(market=market)
        key = json.dumps(data, sort_keys=True)
        if self._tickers.get(market_id) == key:
            return
        self._tickers[market_id] = key
        channel = f"ticker:{market.symbol}"
        groups.setdefault(public_group("ticker", market_id), []).append([channel, frame(channel, event_time, data)])

    def _tickers_refresh(self) -> list[tuple[str, dict]]:
        groups: dict[str, list[list[str]]] = {}
        now = epoch_ms(timezone.now())
        for market_id in list(self._tickers):
            self._ticker_frame(market_id, now, groups)
        return self._public_messages(groups)

    def _fill_frames(self, job: _SettlementJob, private: dict) -> None:
        market = self._market(job.market_id)
        for trade in job.trades:
            trade.market = market
            users = {trade.taker_user_id, trade.maker_user_id}
            for user_id in sorted(users):
                data = fill_for(trade, user_id)
                data["time"] = _time(data["time"])
                private.setdefault(user_id, []).append(["fills", frame("fills", job.event_time, data)])

    def _balance_frames(self, wallet_times: dict[int, int], private: dict) -> None:
        # Read the rows now rather than trusting the callers' copies: whichever
        # publish comes last then carries the newest committed balance.
        from wallets.models import Wallet

        rows = list(
            Wallet.objects.filter(pk__in=list(wallet_times))
            .order_by("user_id", "currency_id")
            .values_list("pk", "user_id", "currency_id", "balance", "locked")
        )
        missing = {c for _, _, c, _, _ in rows if c not in self._currency_codes}
        if missing:
            self._currency_codes.update(Currency.objects.filter(pk__in=missing).values_list("pk", "code"))
        for wallet_id, user_id, currency_id, balance, locked in rows:
            data = {
                "currency": self._currency_codes[currency_id],
                "balance": fmt(balance),
                "locked": fmt(locked),
                "available": fmt(balance - locked),
            }
            private.setdefault(user_id, []).append(["balances", frame("balances", wallet_times[wallet_id], data)])

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


def hooks_register() -> None:
    """Register the publishers with the matcher, settlement and the wallet service (idempotent)."""
    from wallets.services import after_wallets_change
    from wallets.settlement import after_settlement

    from .runner import after_batch

    if batch_publish not in after_batch:
        # First: market data goes out before settlement is triggered (eager in one-process mode).
        after_batch.insert(0, batch_publish)
    if settlement_publish not in after_settlement:
        after_settlement.append(settlement_publish)
    if wallets_publish not in after_wallets_change:
        after_wallets_change.append(wallets_publish)
