"""Request weight per key (or per IP for public endpoints) and order counts, Binance's way.

Counters live in the shared cache, one per window; an unreachable cache lets the request
through (limits fail open, like the project's other rate limits).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from .errors import BinanceError

logger = logging.getLogger(__name__)


def _count(key: str, amount: int, window: int, now: float) -> tuple[int, int]:
    """Add ``amount`` to the counter of the current ``window``-second bucket; return (total, seconds left)."""
    bucket = int(now // window)
    name = f"bn:{key}:{window}:{bucket}"
    left = max(1, int((bucket + 1) * window - now + 0.999))
    try:
        cache.add(name, 0, timeout=window + 5)
        return int(cache.incr(name, amount)), left
    except Exception:
        logger.warning("request weight counter unavailable", exc_info=True)
        return amount, left


def weight_use(*, ident: str, weight: int) -> int:
    """Count a request's weight; refuse with 429 -1003 past the minute's limit."""
    limit = settings.BINANCE_WEIGHT_PER_MINUTE
    used, left = _count(f"w:{ident}", weight, 60, time.time())
    if used > limit:
        raise BinanceError(
            -1003,
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
            429,
            {"Retry-After": str(left), "X-MBX-USED-WEIGHT-1M": str(used)},
        )
    return used


def orders_count(*, key_id: int, orders: int = 1) -> dict[str, str]:
    """Count a key's new orders (an OCO is two); refuse with 429 -1015 past a limit. Returns the headers."""
    now = time.time()
    headers: dict[str, str] = {}
    for window, label, limit, name in (
        (10, "10S", settings.BINANCE_ORDERS_PER_10S, "10 SECOND"),
        (86400, "1D", settings.BINANCE_ORDERS_PER_DAY, "1 DAY"),
    ):
        used, left = _count(f"o:{key_id}", orders, window, now)
        headers[f"X-MBX-ORDER-COUNT-{label}"] = str(used)
        if used > limit:
            raise BinanceError(
                -1015,
                f"Too many new orders; current limit is {limit} orders per {name}.",
                429,
                {"Retry-After": str(left), **headers},
            )
    return headers
