"""Wake the matcher after an order or cancel commits.

With Redis a publish reaches matchers in other processes; without it (the embedded
one-process mode) an in-process event does. The matcher also polls, so a lost
wake-up only costs latency.
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings

from exchange_site.events import MarketChanged, OrderPlaced, OrdersChanged

CHANNEL = "exchange:matcher:wake"
RESUBSCRIBE_SECONDS = 1.0
_local_event = threading.Event()
_redis_client = None


def _redis():
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, **settings.REDIS_SSL_OPTIONS
        )
    return _redis_client


def wake_channel() -> str:
    """The pub/sub channel of the wake-ups, in this Redis database's namespace (settings)."""
    return settings.REDIS_PUBSUB_NAMESPACE + CHANNEL


def matcher_wake(*, market_id: int) -> None:
    _local_event.set()
    if settings.REDIS_URL:
        _redis().publish(wake_channel(), str(market_id))


def wake_for(event: OrderPlaced | OrdersChanged | MarketChanged) -> None:
    """Subscriber of the events that give the matcher work (``MatchingConfig.ready``)."""
    matcher_wake(market_id=event.order.market_id if isinstance(event, OrderPlaced) else event.market_id)


class WakeListener:
    """Blocks until a wake-up arrives or the poll interval passes.

    After a Redis outage it subscribes again (at most once per ``RESUBSCRIBE_SECONDS``),
    so wake-ups resume instead of leaving the matcher on polling for good.
    """

    def __init__(self) -> None:
        self._pubsub = None
        self._next_attempt = 0.0
        self._subscribe()

    def _subscribe(self) -> None:
        if not settings.REDIS_URL or time.monotonic() < self._next_attempt:
            return
        self._pubsub = _redis().pubsub(ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(wake_channel())
        except Exception:  # noqa: BLE001 - polling covers a Redis outage
            self._drop()

    def _drop(self) -> None:
        try:
            self._pubsub.close()  # gives its connection back to the pool
        except Exception:  # noqa: BLE001 - the connection is already gone
            pass
        self._pubsub = None
        self._next_attempt = time.monotonic() + RESUBSCRIBE_SECONDS

    def wait(self, timeout: float) -> None:
        if self._pubsub is None:
            self._subscribe()
        if self._pubsub is not None:
            try:
                message = self._pubsub.get_message(timeout=timeout)
                # Drain a burst of wake-ups so one batch serves them all.
                while message is not None:
                    message = self._pubsub.get_message(timeout=0)
                return
            except Exception:  # noqa: BLE001 - fall back to polling until Redis answers again
                self._drop()
        if _local_event.wait(timeout):
            _local_event.clear()
