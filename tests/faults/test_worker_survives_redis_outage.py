"""The Celery worker survives losing Redis while a settlement task is running.

A task in flight when the broker connection drops must not take the worker down:
otherwise, under a process manager that does not restart it, settlement stops for
good (beat keeps queueing sweeps that nobody runs).
"""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction

from exchange_site.celery import app
from markets.models import Market
from tools.harness import PrivateRedis, process_env
from tools.soak import soak_harness, soak_market_create
from tools.waiting import wait_until
from wallets.models import SettlementCursor
from wallets.tasks import settle_market

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views are a snapshot unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def send(url: str, market_id: int) -> None:
    with app.connection_for_write(url) as conn:
        settle_market.apply_async((market_id,), connection=conn)


def test_worker_keeps_running_when_redis_dies_under_a_running_settlement_task(transactional_db, tmp_path):
    market = soak_market_create(traders=1, tag="WK1").market
    SettlementCursor.objects.get_or_create(market=market)
    redis = PrivateRedis(tmp_path)
    redis.start()
    procs = soak_harness(env=process_env(redis_url=redis.url), market=market.symbol, log_dir=tmp_path)
    try:
        worker = procs.start("worker")
        Market.objects.filter(pk=market.pk).update(last_sequence=1)
        with transaction.atomic():
            # Hold the settlement cursor: the task blocks on it, running and unacknowledged.
            SettlementCursor.objects.select_for_update().get(market=market)
            send(redis.url, market.pk)
            wait_until(lambda: waiting_on_a_lock() > 0, 60, what="the settlement task to start")
            redis.kill()
            time.sleep(3)  # the subject: an outage while the task runs
            redis.start()
        wait_until(
            lambda: SettlementCursor.objects.get(market=market).settled_sequence == 1, 30, what="the first settlement"
        )
        time.sleep(2)  # the subject: the worker is still alive a while after the outage
        assert worker.running, f"the worker died; see {tmp_path / 'worker.log'}"

        Market.objects.filter(pk=market.pk).update(last_sequence=2)
        send(redis.url, market.pk)
        wait_until(
            lambda: SettlementCursor.objects.get(market=market).settled_sequence == 2, 30, what="a new task to run"
        )
    finally:
        procs.stop_all()
        redis.kill()
