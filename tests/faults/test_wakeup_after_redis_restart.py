"""The matcher's wake-up listener goes back to Redis pub/sub after an outage.

Polling covers a Redis outage, but once Redis is back wake-ups must work again:
otherwise every order waits for the poll interval for the rest of the process's life.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import redis

from matching import wakeup
from tools.harness import PrivateRedis

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture
def private_redis(settings, monkeypatch, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    monkeypatch.setattr(wakeup, "_redis_client", None)  # the module caches its client per process
    yield server
    server.kill()


def total_wait(listener: wakeup.WakeListener, url: str, *, waits: int, timeout: float) -> float:
    """Time ``waits`` calls to ``wait(timeout)`` while another client publishes wake-ups."""
    stop = threading.Event()

    def publish() -> None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        while not stop.wait(0.1):
            try:
                client.publish(wakeup.wake_channel(), "1")
            except redis.RedisError:
                pass

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    started = time.monotonic()
    for _ in range(waits):
        listener.wait(timeout)
    stop.set()
    thread.join()
    return time.monotonic() - started


def test_wake_listener_resubscribes_when_redis_comes_back(private_redis):
    listener = wakeup.WakeListener()
    assert total_wait(listener, private_redis.url, waits=3, timeout=2) < 3

    private_redis.kill()
    listener.wait(0.2)  # notices the outage and falls back to polling
    listener.wait(0.2)
    private_redis.start()

    # Before the fix every wait ran to its timeout (6 s): pub/sub was never resumed.
    assert total_wait(listener, private_redis.url, waits=3, timeout=2) < 3.5
