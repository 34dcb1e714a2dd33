"""The matcher queues one settlement run per burst of batches, never leaves a batch behind."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from tests.factories import MarketFactory
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
