"""The matcher's main loop, shared by ``run_matcher`` and ``runexchange``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import close_old_connections

from markets.models import Market

from .locks import MarketLock
from .wakeup import WakeListener
from .worker import BatchResult, MarketMatcher

logger = logging.getLogger(__name__)

# Called after each committed batch (settlement trigger, WebSocket publisher).
after_batch: list[Callable[[BatchResult], None]] = []


def _trigger_settlement(result: BatchResult) -> None:
    from wallets.tasks import settle_market

    settle_market.delay(result.market.pk)


after_batch.append(_trigger_settlement)


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


def run_loop(
    markets: list[Market],
    *,
    stop: threading.Event,
    poll_seconds: float | None = None,
    max_idle_batches: int | None = None,
) -> None:
    """Match until ``stop`` is set. Locks must already be held by the caller."""
    poll = settings.MATCHER_POLL_SECONDS if poll_seconds is None else poll_seconds
    matchers = [MarketMatcher(m.pk) for m in markets]
    listener = WakeListener()
    idle = 0
    while not stop.is_set():
        busy = False
        for matcher in matchers:
            try:
                result = matcher.run_batch()
            except Exception:  # noqa: BLE001 - the batch rolled back and the book was rebuilt
                close_old_connections()
                time.sleep(0.5)
                continue
            if result is None:
                continue
            busy = True
            for hook in after_batch:
                try:
                    hook(result)
                except Exception:  # noqa: BLE001 - a failed push must never stop matching
                    logger.exception("after-batch hook %r failed", hook)
        if busy:
            idle = 0
            continue
        idle += 1
        if max_idle_batches is not None and idle >= max_idle_batches:
            return
        listener.wait(poll)
