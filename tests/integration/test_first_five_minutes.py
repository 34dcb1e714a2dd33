"""The README's first five minutes against the real processes: health, ws_watch, an order, a dead matcher.

The Procfile's web, ws, matcher and worker on the test database; the matcher's heartbeat
is the real one (a process writing to Redis), ``ws_watch`` runs as the README says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

from .stack import Stack, free_port, process_env

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


@pytest.fixture
def quick_stack(transactional_db, flush_redis):
    s = Stack(port=free_port(), env=process_env(HEALTH_MATCHER_STALE_SECONDS="3"))
    try:
        for name in ("web", "ws", "matcher", "worker"):
            s.start(name)
        s.wait_http()
        yield s
    finally:
        s.stop_all()


def _health(stack: Stack, want: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    resp = None
    while time.monotonic() < deadline:
        resp = httpx.get(f"{stack.url}/api/v1/health", timeout=5)
        if resp.status_code == want:
            return resp.json()
        time.sleep(0.5)
    raise AssertionError(f"health never answered {want}: {resp and resp.text}")


def test_watch_an_order_on_the_websocket_and_see_a_dead_matcher_in_the_health(
    quick_stack,
    live_market,
    make_live_trader,
):
    body = _health(quick_stack, 200)
    assert body["redis"] == {"ok": True, "configured": True}
    assert body["markets"][0]["symbol"] == live_market.symbol
    assert body["markets"][0]["matcher_ok"]

    trader = make_live_trader(quick_stack, live_market, quote="1000")
    token = trader.http.headers["Authorization"].split()[1]
    watch = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "ws_watch",
            "--token",
            token,
            "--url",
            quick_stack.ws_url,
            "--count",
            "2",
            "--seconds",
            "60",
        ],
        cwd=settings.BASE_DIR,
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(watch.stdout.readline()) == {"op": "authenticated"}
        assert json.loads(watch.stdout.readline())["op"] == "subscribed"
        placed = trader.place(side="buy", type="limit", price="100", quantity="1")
        assert placed.status_code == 201, placed.text
        out, err = watch.communicate(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
    frames = [json.loads(line) for line in out.splitlines()]
    assert watch.returncode == 0, err
    assert {f["channel"] for f in frames} <= {"orders", "balances"}
    assert len(frames) == 2
    assert any(f["channel"] == "orders" and f["data"]["id"] == placed.json()["id"] for f in frames)

    quick_stack.kill("matcher")
    body = _health(quick_stack, 503, timeout=30)
    assert body["matcher"]["ok"] is False
    assert body["markets"][0]["matcher_ok"] is False
