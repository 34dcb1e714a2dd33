"""Redis cache backend whose connection pool lives as long as the process."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_clients_lock = threading.Lock()


class _ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one ``redis.Redis`` per connection pool.

    Django builds a new ``redis.Redis`` for every cache call, and its constructor
    (response callbacks, event dispatcher) costs more CPU than the round trip itself.
    A ``redis.Redis`` over a pool is thread-safe, so one per pool serves every call.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis_clients.get(id(pool))
        if client is None:
            client = self._redis_clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedRedisCache(RedisCache):
    """Django's RedisCache, sharing one client (and its connection pool) per process.

    Django keeps cache objects per async context, so under ASGI every request builds
    a new RedisCache with a new connection pool and opens a new TCP connection to
    Redis for its first cache call (the rate limits are one per trading request).
    redis-py's pool is thread-safe, so one per process serves every request.
    """

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _ReusedClientRedisCacheClient

    @cached_property
    def _cache(self) -> RedisCacheClient:
        # Looked up once per cache object (one per request context), not per call.
        key = (tuple(self._servers), tuple(sorted((k, repr(v)) for k, v in self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = self._class(self._servers, **self._options)
        return client
