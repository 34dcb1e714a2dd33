"""The matcher's main loop, shared by ``run_matcher`` and ``runexchange``."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from exchange_site import events
from exchange_site.events import BatchCommitted
from markets.models import Market
from wallets.tasks import settle_market_soon

from .heartbeat import Heart
from .locks import MarketLock
from .market_data import market_data_warm
from .wakeup import WakeListener
from .worker import BatchResult, MarketMatcher

logger = logging.getLogger(__name__)


def _started(matcher: MarketMatcher) -> MarketMatcher:
    """A market's book is rebuilt in this process: warm its market-data cache."""
    try:
        market_data_warm(matcher)
    except Exception:
        logger.exception("warming the market data of market %s failed", matcher.market_id)
    return matcher


# Markets whose last settlement trigger was absorbed by an already queued run. Tried
# again when idle (at most once per trigger interval), so that a run lost with a killed
# worker does not leave the last batches unsettled until beat's sweep.
_settlement_owed: set[int] = set()
# Markets with batches committed while their trigger interval ran: triggered once it has
# passed (the loop wakes for it), so one settlement run covers all those batches.
_settlement_deferred: set[int] = set()
# market id -> monotonic time before which no new trigger goes (SETTLEMENT_TRIGGER_INTERVAL_MS).
_settlement_next: dict[int, float] = {}


def _settlement_queue(market_id: int, now: float) -> None:
    _settlement_next[market_id] = now + settings.SETTLEMENT_TRIGGER_INTERVAL_MS / 1000
    _settlement_deferred.discard(market_id)
    if settle_market_soon(market_id):
        _settlement_owed.discard(market_id)
    else:
        _settlement_owed.add(market_id)


def _trigger_settlement(result: BatchResult) -> None:
    """Queue the market's settlement, at most once per interval: one run then covers several batches."""
    market_id = result.market.pk
    now = time.monotonic()
    if now < _settlement_next.get(market_id, 0.0):
        _settlement_deferred.add(market_id)
        return
    _settlement_queue(market_id, now)


def _settlement_retry(*, idle: bool = True) -> None:
    """Trigger the deferred markets whose interval has passed, and when ``idle`` the owed ones too."""
    now = time.monotonic()
    markets = _settlement_deferred | _settlement_owed if idle else _settlement_deferred
    for market_id in list(markets):
        if now < _settlement_next.get(market_id, 0.0):
            continue
        try:
            _settlement_queue(market_id, now)
        except Exception:  # the broker is down; beat's sweep covers it
            logger.exception("settlement trigger for market %s failed", market_id)
            _settlement_deferred.discard(market_id)
            _settlement_owed.add(market_id)


def _settlement_wait() -> float | None:
    """Seconds until the first deferred trigger is due (None when none is deferred)."""
    if not _settlement_deferred:
        return None
    return max(0.0, min(_settlement_next.get(m, 0.0) for m in _settlement_deferred) - time.monotonic())


def batch_event(result: BatchResult) -> BatchCommitted:
    """The announcement of a committed batch."""
    return BatchCommitted(
        market=result.market,
        first_sequence=result.first_sequence,
        sequence=result.sequence,
        committed_at=result.committed_at or timezone.now(),
        trades=result.trades,
        orders=result.orders,
        depth_bids=result.depth_bids,
        depth_asks=result.depth_asks,
        book_bids=result.book_bids,
        book_asks=result.book_asks,
    )


def batch_committed(result: BatchResult) -> None:
    """After a batch's commit: announce it (pushes, market-data cache), then trigger its settlement.

    Announced first: in the one-process mode settlement runs eagerly inside the
    trigger, and clients see a batch's trades before their fills.
    """
    events.announce(batch_event(result))
    try:
        _trigger_settlement(result)
    except Exception:
        logger.exception("settlement trigger for market %s failed", result.market.pk)
        _settlement_owed.add(result.market.pk)


def resolve_markets(symbols: Iterable[str]) -> list[Market]:
    symbols = list(symbols)
    if not symbols:
        return list(Market.objects.order_by("id"))
    found = {m.symbol: m for m in Market.objects.filter(symbol__in=symbols)}
    missing = [s for s in symbols if s not in found]
    if missing:
        raise ValueError(f"unknown market(s): {', '.join(missing)}")
    return [found[s] for s in symbols]


def acquire_locks(markets: list[Market], *, wait: bool, log: Callable[[str], None]) -> list[MarketLock]:
    locks = []
    for market in markets:
        lock = MarketLock(market.pk)
        announced = False
        while not lock.try_acquire():
            if not wait:
                for held in locks:
                    held.release()
                raise RuntimeError(f"another matcher is running market {market.symbol}")
            if not announced:
                log(f"another matcher holds market {market.symbol}; waiting for it to stop")
                announced = True
            time.sleep(1)
        locks.append(lock)
    return locks


class MatcherPool:
    """The markets this process matches, with their locks; picks up markets created later."""

    def __init__(self, symbols: Iterable[str], *, wait: bool, log: Callable[[str], None]) -> None:
        self.symbols = list(symbols)
        self.log = log
        markets = resolve_markets(self.symbols)
        self.locks = acquire_locks(markets, wait=wait, log=log)
        self.matchers = [_started(MarketMatcher(m.pk)) for m in markets]
        self._last_discovery = time.monotonic()

    def discover(self) -> None:
        """Without an explicit market list, take on markets created since start (if free)."""
        if self.symbols or time.monotonic() - self._last_discovery < DISCOVERY_SECONDS:
            return
        self._last_discovery = time.monotonic()
        known = {m.market_id for m in self.matchers}
        for market in Market.objects.exclude(pk__in=known).order_by("id"):
            lock = MarketLock(market.pk)
            if lock.try_acquire():
                self.locks.append(lock)
                self.matchers.append(_started(MarketMatcher(market.pk)))
                self.log(f"matching new market {market.symbol}")
            else:
                lock.release()

    def release(self) -> None:
        for lock in self.locks:
            lock.release()
        self.locks = []


DISCOVERY_SECONDS = 2.0


class BatchPacer:
    """When the next round of batches may start: at least ``interval`` seconds after the last busy one.

    Orders arriving while a round waits share the next batch (one transaction, one
    publish, one settlement run) instead of taking one each; after an idle round the
    next one goes at once, so the first order after a quiet spell waits for nothing.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_busy = float("-inf")  # monotonic start of the last round that did work

    def delay(self, now: float) -> float:
        """Seconds to wait before starting a round at ``now``."""
        return max(0.0, self._last_busy + self.interval - now)

    def ran(self, started: float, *, busy: bool) -> None:
        if busy:
            self._last_busy = started


# Allocations between young collections (CPython's default: 700). A batch allocates
# hundreds of thousands of short-lived objects (rows, orders, trades, events); with the
# default the collector ran thousands of times per batch and cost the matcher about a
# third of its CPU per order.
GC_THRESHOLDS = (50_000, 20, 100)


def _gc_tune() -> None:
    """Started (imports done, books rebuilt): keep what lives on out of every collection, collect less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_loop(pool: MatcherPool, *, stop: threading.Event, poll_seconds: float | None = None) -> None:
    """Match until ``stop`` is set (rounds paced by ``MATCHER_MIN_BATCH_INTERVAL_MS``).

    A round follows at once only a batch that read as many commands as it could take;
    otherwise the loop waits for a wake-up (an order, cancel or amend committed) or
    the poll interval, which also drives GTD expiry.
    """
    _gc_tune()
    poll = settings.MATCHER_POLL_SECONDS if poll_seconds is None else poll_seconds
    pacer = BatchPacer(settings.MATCHER_MIN_BATCH_INTERVAL_MS / 1000)
    listener = WakeListener()
    heart = Heart()
    while not stop.is_set():
        delay = pacer.delay(time.monotonic())
        if delay and stop.wait(delay):
            break
        heart.beat(m.market_id for m in pool.matchers)
        started = time.monotonic()
        busy = False
        for matcher in pool.matchers:
            try:
                result = matcher.run_batch()
            except Exception:  # noqa: BLE001 - the batch rolled back and the book was rebuilt
                close_old_connections()
                time.sleep(0.5)
                continue
            if result is None:
                continue
            busy = True
            batch_committed(result)
        pacer.ran(started, busy=busy)
        _settlement_retry(idle=not busy)
        if any(matcher.backlog for matcher in pool.matchers):
            continue
        # Not straight into another round after a busy one: anything committed after a
        # batch read its commands has sent a wake-up since, which ends this wait at once.
        if not busy:
            pool.discover()
        due = _settlement_wait()
        listener.wait(poll if due is None else min(poll, max(due, 0.001)))
