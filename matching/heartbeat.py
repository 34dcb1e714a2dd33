"""The matcher's heartbeat: when each market's matcher last went round its loop.

The loop writes the time to the cache (Redis with ``REDIS_URL``, the process's memory on
the embedded default, where ``runexchange`` matches in the web process) at most once per
``BEAT_EVERY`` seconds; the health check reads it. A matcher stuck in a batch or dead
stops beating; its market's beat grows old and the health check answers 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.core.cache import cache

logger = logging.getLogger(__name__)

BEAT_EVERY = 1.0
# Long enough for a slow batch, a Redis blip and a poll interval; short enough for a load balancer.
KEEP_SECONDS = 3600
PROCESS_KEY = "matcher:heartbeat"
RETRY_AFTER_FAILURE = 9.0


def _key(market_id: int) -> str:
    return f"matcher:heartbeat:{market_id}"


class Heart:
    """Beats for the markets one matcher process holds, rate-limited to one write per second."""

    def __init__(self) -> None:
        self._last = 0.0

    def beat(self, market_ids: Iterable[int]) -> None:
        now = time.time()
        if now - self._last < BEAT_EVERY:
            return
        self._last = now
        beats = {_key(m): now for m in market_ids}
        beats[PROCESS_KEY] = now
        try:
            cache.set_many(beats, timeout=KEEP_SECONDS)
        except Exception:  # noqa: BLE001 - the cache is down: matching goes on, the health check says so
            logger.warning("matcher heartbeat not written (cache unreachable)")
            self._last = now + RETRY_AFTER_FAILURE  # don't spend a socket timeout per second on a dead Redis


def last_beats(market_ids: Iterable[int]) -> tuple[float | None, dict[int, float | None]]:
    """(last beat of any matcher process, last beat per market); None where none was seen.

    Raises when the cache is unreachable (the caller reports Redis as down).
    """
    ids = list(market_ids)
    found = cache.get_many([PROCESS_KEY, *(_key(m) for m in ids)])
    return found.get(PROCESS_KEY), {m: found.get(_key(m)) for m in ids}
