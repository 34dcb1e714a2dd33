"""Presence: which users have a live authenticated WebSocket on a private channel.

The publisher renders and sends a user's ``orders``, ``fills`` and ``balances`` frames
only for present users: most traders (bots on REST) never open a socket, and
rendering their frames was most of the publisher's work.

With Redis, presence is a sorted set (``ws:presence`` in the database's namespace):
member the user id, score the epoch second until which it holds. A ws process records
a user (``ZADD ... GT``) and waits for Redis to confirm *before* it acknowledges the
user's private subscription, and re-records every user it holds every
``WS_PRESENCE_REFRESH_SECONDS`` (one command for all of them) with a lifetime of
``WS_PRESENCE_TTL_SECONDS``. A publisher round reads the presence of the round's
users live, in one ``ZMSCORE``. So a batch skipped for an absent user was committed
before the presence was recorded, before the subscription was acknowledged, and a
REST read after the acknowledgement shows it.

Entries are never removed on disconnect (another process may hold a socket of the
same user); a crashed process's users expire by themselves. A stale entry costs
wasted frames, never lost ones; so does a Redis error on the publisher's side (it
then renders for every user of the round).

Without Redis (one process, in-memory channel layer) presence is a count of this
process's private sockets per user, read under a lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Collection

import redis
import redis.asyncio
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

PRESENCE_KEY = "ws:presence"
# Validated in settings (a lifetime of at least two refreshes).
PRESENCE_TTL_SECONDS = settings.WS_PRESENCE_TTL_SECONDS
PRESENCE_REFRESH_SECONDS = settings.WS_PRESENCE_REFRESH_SECONDS
LOG_EVERY_SECONDS = 60.0


def presence_key() -> str:
    """The sorted set's key, in this Redis database's namespace (settings.REDIS_PUBSUB_NAMESPACE)."""
    return settings.REDIS_PUBSUB_NAMESPACE + PRESENCE_KEY


def presence_shared() -> bool:
    """Whether presence lives in Redis (sockets in other processes) or in this process's memory."""
    return bool(settings.REDIS_URL) and not isinstance(get_channel_layer(), InMemoryChannelLayer)


# -- one process: sockets per user, in memory ----------------------------------------
_local: dict[int, int] = {}
_local_lock = threading.Lock()


def _local_add(user_id: int, delta: int) -> None:
    with _local_lock:
        count = _local.get(user_id, 0) + delta
        if count > 0:
            _local[user_id] = count
        else:
            _local.pop(user_id, None)


# -- the publisher's side -------------------------------------------------------------
_client: redis.Redis | None = None
_last_error_log = 0.0


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, **settings.REDIS_SSL_OPTIONS
        )
    return _client


def users_present(user_ids: Collection[int]) -> set[int]:
    """The users among ``user_ids`` present now: one Redis round trip, never a cached answer.

    On a Redis error every one of them counts as present (frames wasted, none lost).
    """
    if not user_ids:
        return set()
    if not presence_shared():
        with _local_lock:
            return {user_id for user_id in user_ids if user_id in _local}
    ids = list(user_ids)
    try:
        scores = _redis().zmscore(presence_key(), ids)
    except redis.RedisError as exc:
        global _last_error_log
        if time.monotonic() - _last_error_log > LOG_EVERY_SECONDS:
            _last_error_log = time.monotonic()
            logger.warning("reading WebSocket presence failed (%r); pushing to every user", exc)
        return set(ids)
    now = time.time()
    return {user_id for user_id, score in zip(ids, scores, strict=True) if score is not None and score > now}


# -- the ws process's side ------------------------------------------------------------
class SocketPresence:
    """One event loop's private sockets per user; records them present and keeps them so."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.shared = presence_shared()
        self.client: redis.asyncio.Redis | None = None
        self.task: asyncio.Task | None = None

    async def enter(self, user_id: int) -> None:
        """Count a socket of ``user_id``; returns once publishers see the user present.

        Raises the Redis error if it could not be recorded (the caller refuses the subscription).
        """
        if self.shared:
            if self.client is None:
                self.client = redis.asyncio.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, **settings.REDIS_SSL_OPTIONS
                )
                self.task = asyncio.create_task(self._refresh())
            # Always written, even for a user already counted: a refresh may have failed.
            await self.client.zadd(presence_key(), {str(user_id): time.time() + PRESENCE_TTL_SECONDS}, gt=True)
        else:
            _local_add(user_id, 1)
        self.counts[user_id] = self.counts.get(user_id, 0) + 1

    def leave(self, user_id: int) -> None:
        """Uncount a socket; with Redis the entry just runs out (other processes may hold the user)."""
        count = self.counts.get(user_id, 0) - 1
        if count > 0:
            self.counts[user_id] = count
        else:
            self.counts.pop(user_id, None)
        if not self.shared:
            _local_add(user_id, -1)

    async def refresh(self) -> None:
        """Extend every counted user's entry and drop the expired ones: one round trip."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        if self.counts:
            pipe.zadd(presence_key(), dict.fromkeys(map(str, self.counts), now + PRESENCE_TTL_SECONDS), gt=True)
        pipe.zremrangebyscore(presence_key(), "-inf", now)
        await pipe.execute()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_SECONDS)
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - tried again next time; entries last 3 intervals
                logger.warning("refreshing WebSocket presence failed (%r)", exc)


_presences: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SocketPresence] = weakref.WeakKeyDictionary()


def socket_presence() -> SocketPresence:
    """The running event loop's presence (one per ws process, like its hub)."""
    loop = asyncio.get_running_loop()
    current = _presences.get(loop)
    if current is None:
        current = _presences[loop] = SocketPresence()
    return current
