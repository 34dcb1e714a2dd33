"""Redis killed and restarted under load: the web process stays up and nothing is lost.

The stack runs on a private redis-server (a free loopback port, never the shared one):
the broker, the cache, the channel layer and the matcher's wake-ups all go away at
once. Lost wake-ups are covered by the matcher's polling, lost settlement tasks by the
beat sweep, so every accepted order must still end final or resting, settlement must
catch up and the audit must pass, without restarting daphne.
"""

from __future__ import annotations

import sys

import httpx
import pytest

from tools.harness import PrivateRedis, process_env
from tools.soak import SoakConfig, access_token, soak_harness, soak_market_create, soak_run

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def log(message: str) -> None:
    sys.stderr.write(f"soak: {message}\n")


def test_redis_killed_mid_run_loses_no_order_or_settlement_and_the_web_process_survives(transactional_db, tmp_path):
    config = SoakConfig(traders=4, seconds=15, rate=15, kill_every=5, faults=("redis",), seed=3, log_dir=tmp_path)
    report = soak_run(config, log=log)
    figures = report.figures
    assert figures["redis_restarts"] >= 2
    assert figures["lost_orders"] == 0
    assert figures["double_settlements"] == 0
    assert figures["breaches"] == 0
    assert figures["orders_accepted"] > 30
    # Problems other than 5xx answers during the outage (see the next test) fail here:
    # a stuck or lost order, settlement behind, a failed audit, a web restart.
    assert [p for p in report.problems if "5xx" not in p] == []


@pytest.fixture
def web_on_private_redis(transactional_db, tmp_path):
    """daphne alone on a private redis-server, a funded trader and a limit-order body."""
    setup = soak_market_create(traders=1, tag="RW1")
    redis = PrivateRedis(tmp_path)
    redis.start()
    procs = soak_harness(env=process_env(redis_url=redis.url), market=setup.market.symbol, log_dir=tmp_path)
    try:
        procs.start("web")
        procs.wait_http("web")
        http = httpx.Client(base_url=procs.url(), timeout=30)
        http.headers["Authorization"] = f"Bearer {access_token(setup.users[0])}"
        body = {"market": setup.market.symbol, "side": "buy", "type": "limit", "price": "99", "quantity": "0.1"}
        assert http.post("/api/v1/orders", json=body).status_code == 201
        yield procs, redis, http, body
    finally:
        procs.stop_all()
        redis.kill()


def test_web_process_keeps_answering_while_redis_is_down_and_takes_orders_again_after(web_on_private_redis):
    procs, redis, http, body = web_on_private_redis
    web_pid = procs.pid("web")
    redis.kill()
    assert http.get("/api/v1/orders").status_code == 200, "reads do not need Redis"
    assert http.get("/api/v1/time").status_code == 200
    redis.start()
    assert http.post("/api/v1/orders", json=body).status_code == 201
    assert procs.pid("web") == web_pid
    assert procs.get("web").running


def test_order_placement_answers_201_or_a_clean_503_in_the_error_format_while_redis_is_down(web_on_private_redis):
    procs, redis, http, body = web_on_private_redis
    redis.kill()
    during = http.post("/api/v1/orders", json=body)
    assert during.status_code in (201, 503), during.text[:300]
    if during.status_code == 503:
        assert during.json()["error"]["code"]
