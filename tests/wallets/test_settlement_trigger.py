"""The matcher queues one settlement run per burst of batches, never leaves a batch behind."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from tests.factories import MarketFactory
from tools.waiting import wait_until
from wallets.tasks import PENDING_KEY, settle_market, settle_market_soon

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def queue():
    """The Celery queue in the test Redis: how many messages wait in it."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield lambda: client.llen("celery")
    client.delete("celery")


def test_a_queued_run_absorbs_later_triggers_until_it_starts(queue):
    market = MarketFactory()
    cache.delete(PENDING_KEY.format(market.pk))
    settle_market_soon(market.pk)
    settle_market_soon(market.pk)
    settle_market_soon(market.pk)
    assert queue() == 1
    settle_market(market.pk)  # the worker starts it: what commits from now on needs a new run
    settle_market_soon(market.pk)
    assert queue() == 2


def test_markets_are_coalesced_separately(queue):
    first, second = MarketFactory(symbol="BTC-USDT"), MarketFactory(symbol="ETH-USDT", base__code="ETH")
    for market in (first, second):
        cache.delete(PENDING_KEY.format(market.pk))
    settle_market_soon(first.pk)
    settle_market_soon(second.pk)
    settle_market_soon(first.pk)
    assert queue() == 2


def test_a_run_lost_with_its_worker_is_replaced_when_the_matcher_goes_idle(queue):
    from types import SimpleNamespace

    from matching import runner

    market = MarketFactory()
    # A queued run whose worker died before starting it: its key outlives it briefly.
    cache.set(PENDING_KEY.format(market.pk), 1, timeout=1)
    runner._trigger_settlement(SimpleNamespace(market=market))
    assert queue() == 0
    assert market.pk in runner._settlement_owed
    runner._settlement_retry()  # idle, key still there: still owed
    assert queue() == 0
    assert market.pk in runner._settlement_owed
    wait_until(lambda: cache.get(PENDING_KEY.format(market.pk)) is None, 5, what="the queued run's key to expire")
    runner._settlement_retry()
    assert queue() == 1
    assert market.pk not in runner._settlement_owed


def test_batches_within_the_trigger_interval_share_one_run_queued_when_it_has_passed(queue, settings):
    from types import SimpleNamespace

    from matching import runner

    settings.SETTLEMENT_TRIGGER_INTERVAL_MS = 300
    market = MarketFactory()
    cache.delete(PENDING_KEY.format(market.pk))
    batch = SimpleNamespace(market=market)
    runner._trigger_settlement(batch)
    assert queue() == 1
    settle_market(market.pk)  # the worker started it: the next batches need a new run
    runner._trigger_settlement(batch)
    runner._trigger_settlement(batch)
    assert queue() == 1
    assert market.pk in runner._settlement_deferred
    assert 0 < runner._settlement_wait() <= 0.3  # the loop wakes for it
    runner._settlement_retry(idle=False)  # not due yet
    assert queue() == 1
    wait_until(lambda: runner._settlement_wait() == 0, 5, what="the trigger interval to pass")
    runner._settlement_retry(idle=False)
    assert queue() == 2
    assert market.pk not in runner._settlement_deferred
    assert runner._settlement_wait() is None
