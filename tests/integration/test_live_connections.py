"""Web processes reuse their PostgreSQL and Redis connections across requests.

The ``web`` process (granian, WSGI) keeps one persistent connection per worker thread,
opened by the thread's first request (``CONN_MAX_AGE``). The ``ws`` process (daphne)
runs every request in a thread of its own, so it hands out connections from a pool
(``DB_POOL_MAX``); without it each request opened (and tore down) a PostgreSQL session,
and without the shared cache client each rate-limit check opened a Redis connection:
about a third of the CPU of an order request went into connecting.
"""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from django.db import connection

from .stack import Stack, free_port, process_env

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

REQUESTS = 40
WARM_UP = 10  # enough requests to reach both test workers


def _sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _redis_connections() -> int:
    return redis.Redis.from_url(settings.REDIS_URL).info("stats")["total_connections_received"]


def _connections_opened(process: str, live_market, make_live_trader, **env: str) -> tuple[int, int]:
    """(PostgreSQL sessions, Redis connections) ``process`` opened while taking REQUESTS orders."""
    stack = Stack(port=free_port(), env=process_env(**env))
    stack.harness.ports[process] = stack.port  # the trader talks to this process only
    try:
        stack.start(process)
        stack.wait_http()
        trader = make_live_trader(stack, live_market, quote="1000")
        for _ in range(WARM_UP):
            trader.place(side="buy", type="limit", price="1", quantity="1")
        time.sleep(1.5)  # PostgreSQL flushes session counts at most once a second
        sessions, connections = _sessions(), _redis_connections()
        for _ in range(REQUESTS):
            resp = trader.place(side="buy", type="limit", price="1", quantity="1")
            assert resp.status_code == 201, resp.text
        time.sleep(1.5)  # as above: the counters lag by up to a second
        return _sessions() - sessions, _redis_connections() - connections
    finally:
        stack.stop_all()


def test_the_web_server_opens_no_database_or_redis_connection_per_request(live_market, make_live_trader):
    sessions, connections = _connections_opened("web", live_market, make_live_trader)
    # Each worker thread's connection was opened in the warm-up; what is left is at most
    # a publisher thread reconnecting after its idle close (one per worker).
    assert sessions <= 2, f"{sessions} PostgreSQL sessions for {REQUESTS} requests"
    assert connections <= 2, f"{connections} Redis connections for {REQUESTS} requests"


def test_without_persistent_connections_the_web_server_opens_a_session_per_request(live_market, make_live_trader):
    # The control for the test above: the count does see per-request sessions.
    sessions, _ = _connections_opened("web", live_market, make_live_trader, CONN_MAX_AGE="0")
    assert sessions >= REQUESTS


def test_the_ws_process_pools_database_and_redis_connections(live_market, make_live_trader):
    sessions, connections = _connections_opened("ws", live_market, make_live_trader)
    assert sessions <= 10, f"{sessions} PostgreSQL sessions for {REQUESTS} requests"
    assert connections <= 3, f"{connections} Redis connections for {REQUESTS} requests"


def test_without_the_pool_every_request_to_the_ws_process_opens_a_session(live_market, make_live_trader):
    sessions, _ = _connections_opened("ws", live_market, make_live_trader, DB_POOL_MAX="0", CONN_MAX_AGE="0")
    assert sessions >= REQUESTS
