"""Fixtures for the WebSocket tests: the real stacks, real clients and a market to watch."""

from __future__ import annotations

import pytest

from tests.integration.stack import Stack, free_port, process_env

from .helpers import WsClient


@pytest.fixture
def one_process(transactional_db, live_market, tmp_path):
    """``runexchange``: web, matcher and eager settlement in one process, in-memory channel layer."""
    env = process_env(MATCHER_LOCK_DIR=str(tmp_path))
    env.pop("REDIS_URL", None)
    s = Stack(port=free_port(), env=env)
    try:
        s.start("runexchange")
        s.wait_http()
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def ws_client():
    """Open real WebSocket clients on a stack; all are closed after the test."""
    clients: list[WsClient] = []

    def _open(target: Stack) -> WsClient:
        client = WsClient(target.ws_url)
        clients.append(client)
        return client

    yield _open
    for client in clients:
        client.close()
