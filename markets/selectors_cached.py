"""Reads served from the shared cache: ready-to-send market data and the market rows.

Market data (depth, recent trades, tickers) is written by the matcher after each
committed batch (``matching.market_data``) as the exact bytes the API sends, so a hit
costs one cache read and no query. Only the matcher writes these entries: a web process
never fills them from the database, so an entry can never be older than what the
matcher last published, and a process whose cache the matcher cannot reach (the local
memory cache of a SQLite setup whose matcher is another process) simply always misses
and reads the database.

The market rows are kept per process and validated on every use against a version in
the shared cache that every save or delete of a market or currency replaces, at once
and again after commit, so a halt or a fee change is seen by the very next request.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.renderers import JSONRenderer

from exchange_site import request_reads

from .models import Currency, Market

logger = logging.getLogger(__name__)

# Levels a side and trades kept in the cache, and the defaults served as stored bytes.
DEPTH_LEVELS = 500
DEPTH_DEFAULT = 50
TRADES_KEPT = 100
TRADES_DEFAULT = 100

_VERSION_KEY = "markets:version"
# A process re-reads the markets at least this often even if a version bump was lost.
_LOCAL_MAX_AGE = 60.0

_renderer = JSONRenderer()


def json_bytes(data: Any) -> bytes:
    """Render ``data`` exactly as the API's JSON renderer does."""
    return _renderer.render(data)


def depth_key(symbol: str) -> str:
    return f"md:depth:{symbol}"


def depth_default_key(symbol: str) -> str:
    return f"md:depth{DEPTH_DEFAULT}:{symbol}"


def trades_key(symbol: str) -> str:
    return f"md:trades:{symbol}"


def trades_default_key(symbol: str) -> str:
    return f"md:trades{TRADES_DEFAULT}:{symbol}"


def ticker_key(symbol: str) -> str:
    return f"md:ticker:{symbol}"


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # an unreachable cache is a miss; the database answers
        logger.warning("cache read of %s failed", key, exc_info=True)
        return None


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # see _cache_get
        logger.warning("cache read of %d keys failed", len(keys), exc_info=True)
        return {}


# -- market data --------------------------------------------------------------------


def depth_body_cached(*, symbol: str, limit: int) -> bytes | None:
    """The depth response for ``limit`` levels a side, or None on a miss.

    Entries: ``(sequence, body)`` for the default limit, ``(sequence, bids, asks)``
    with ``DEPTH_LEVELS`` a side for any other.
    """
    if limit == DEPTH_DEFAULT:
        entry = _cache_get(depth_default_key(symbol))
        return None if entry is None else entry[1]
    entry = _cache_get(depth_key(symbol))
    if entry is None:
        return None
    sequence, bids, asks = entry
    return json_bytes({"symbol": symbol, "sequence": sequence, "bids": bids[:limit], "asks": asks[:limit]})


def trades_body_cached(*, symbol: str, limit: int) -> bytes | None:
    """The recent-trades response for ``limit``, or None on a miss or beyond what is kept.

    Entries: ``(sequence, body)`` for the default limit, ``(sequence, rows)`` with up to
    ``TRADES_KEPT`` rows newest first (fewer only when the market has no more).
    """
    if limit == TRADES_DEFAULT:
        entry = _cache_get(trades_default_key(symbol))
        return None if entry is None else entry[1]
    entry = _cache_get(trades_key(symbol))
    if entry is None:
        return None
    rows = entry[1]
    if limit > len(rows) and len(rows) >= TRADES_KEPT:
        return None
    return json_bytes(rows[:limit])


def ticker_bodies_cached(*, symbols: list[str], now: float | None = None) -> dict[str, bytes]:
    """The cached ticker objects still exact at ``now`` (epoch seconds), by symbol.

    Entries: ``(valid_until, body)``; the rolling 24 h window changes without a batch
    when its oldest minute leaves it, so an entry is used only until then.
    """
    now = time.time() if now is None else now
    found = _cache_get_many([ticker_key(s) for s in symbols])
    out = {}
    for symbol in symbols:
        entry = found.get(ticker_key(symbol))
        if entry is not None and now <= entry[0]:
            out[symbol] = entry[1]
    return out


# -- market rows ---------------------------------------------------------------------

_local_lock = threading.Lock()
# (version, loaded at (monotonic), {symbol: Market} in symbol order, {pk: Market})
_local: tuple[str, float, dict[str, Market], dict[int, Market]] | None = None


# Fetched with the user of each authenticated request, in the same round trip.
request_reads.ride_along(_VERSION_KEY)


def _version() -> str | None:
    version = request_reads.remembered(_VERSION_KEY)
    if version is not None:
        return version
    try:
        version = cache.get(_VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not cache.add(_VERSION_KEY, version, timeout=None):
                version = cache.get(_VERSION_KEY)
        return version
    except Exception:  # no shared cache: read the database
        logger.warning("cache read of the markets version failed", exc_info=True)
        return None


def _markets() -> tuple[dict[str, Market], dict[int, Market]]:
    global _local
    # The version is read before the rows: a change committed meanwhile bumps it again.
    version = _version()
    local = _local
    if version is not None and local is not None and local[0] == version:
        if time.monotonic() - local[1] < _LOCAL_MAX_AGE:
            return local[2], local[3]
    by_symbol = {m.symbol: m for m in Market.objects.select_related("base", "quote").order_by("symbol")}
    by_id = {m.pk: m for m in by_symbol.values()}
    if version is not None:
        with _local_lock:
            _local = (version, time.monotonic(), by_symbol, by_id)
    return by_symbol, by_id


def markets_by_symbol() -> dict[str, Market]:
    """Every market (with base and quote), by symbol in symbol order; one cache read when current.

    The rows are shared by the requests of this process: read them, never change them
    (``last_sequence`` in them is not kept current).
    """
    return _markets()[0]


def markets_by_id() -> dict[int, Market]:
    """Every market (with base and quote) by id; one cache read when current. Read-only, as above."""
    return _markets()[1]


def market_by_id(*, market_id: int) -> Market | None:
    """The market with ``market_id`` from the process cache, or None."""
    return _markets()[1].get(market_id)


def market_by_symbol(*, symbol: str) -> Market | None:
    """The market with ``symbol`` from the process cache, or None."""
    return markets_by_symbol().get(symbol)


def markets_version_bump() -> None:
    """Make every process re-read the markets (now, and again once the change committed)."""

    def bump() -> None:
        request_reads.forget(_VERSION_KEY)
        try:
            cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:  # the local copies expire after _LOCAL_MAX_AGE
            logger.warning("bumping the markets version failed", exc_info=True)

    # Before commit a reader may re-load the old row under the new version; the bump
    # after commit makes it load again.
    bump()
    transaction.on_commit(bump)


def _changed(sender: type, **kwargs: Any) -> None:
    markets_version_bump()
    if sender is Market and kwargs.get("signal") is post_delete:
        symbol = kwargs["instance"].symbol
        keys = [depth_key(symbol), depth_default_key(symbol), trades_key(symbol), trades_default_key(symbol)]
        try:
            cache.delete_many([*keys, ticker_key(symbol)])
        except Exception:  # readers of a deleted market get 404 before any entry
            logger.warning("dropping the cached data of market %s failed", symbol, exc_info=True)


for _model in (Market, Currency):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"markets-version-{_model.__name__}-save")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"markets-version-{_model.__name__}-delete")
