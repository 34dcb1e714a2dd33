"""Shared-cache entries a request reads anyway, fetched with its user in one round trip.

Every authenticated API request reads its user from the shared cache
(``accounts.authentication``) and most then read the markets version
(``markets.selectors_cached``): two Redis round trips where one does. A lower layer
registers such a key here (``ride_along``); the user's read fetches it in the same
``get_many`` and this thread remembers the value until the request ends
(``remembered``). Outside a request (Celery, the matcher, WebSocket consumers) nothing
is remembered and every read goes to the cache as before.

What is remembered is as fresh as a read made when the request authenticated: a change
committed later is seen by the next request, like a read made a moment later. A change
made by this process voids the remembered value at once (``forget``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.signals import request_finished, request_started

_riders: list[str] = []
_local = threading.local()
_MISSING = object()


def ride_along(key: str) -> None:
    """Fetch ``key`` with every user read of a request from now on (idempotent)."""
    if key not in _riders:
        _riders.append(key)


def read_with(keys: Iterable[str]) -> dict[str, Any]:
    """``cache.get_many(keys)``, fetching the registered keys in the same round trip during a request.

    Raises what ``get_many`` raises (an unreachable cache), with nothing remembered.
    """
    keys = list(keys)
    if not getattr(_local, "in_request", False) or not _riders:
        return cache.get_many(keys)
    riders = [k for k in _riders if k not in keys]
    found = cache.get_many(keys + riders)
    _local.values = {k: found.pop(k, None) for k in riders}
    return found


def remembered(key: str) -> Any:
    """The value of ``key`` fetched earlier in this request, or None (not fetched, or absent from the cache)."""
    values = getattr(_local, "values", None)
    return None if values is None else values.get(key)


def forget(key: str) -> None:
    """Drop the remembered value of ``key``: this process just changed it."""
    values = getattr(_local, "values", None)
    if values is not None:
        values.pop(key, None)


def _request_started(**kwargs: Any) -> None:
    _local.in_request = True
    _local.values = None


def _request_finished(**kwargs: Any) -> None:
    _local.in_request = False
    _local.values = None


request_started.connect(_request_started, dispatch_uid="exchange-request-reads-start")
request_finished.connect(_request_finished, dispatch_uid="exchange-request-reads-finish")
