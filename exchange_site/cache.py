"""Redis cache backend whose connection pool lives as long as the process."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    """Django's RedisCache, sharing one client (and its connection pool) per process.

    Django keeps cache objects per async context, so under ASGI every request builds
    a new RedisCache with a new connection pool and opens a new TCP connection to
    Redis for its first cache call (the rate limits are one per trading request).
    redis-py's pool is thread-safe, so one per process serves every request.
    """

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
