"""Fixtures of the live tests: the Procfile's processes on the test database, a market, traders over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import Market
from tests.factories import MarketFactory, UserFactory, fund
from tests.integration.stack import Stack, Trader, free_port, process_env


@pytest.fixture
def flush_redis():
    """An empty Redis database for processes that share it with earlier tests."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def stack(transactional_db, flush_redis):
    """The Procfile's web (granian), ws (daphne), run_matcher and a Celery worker on the test database."""
    s = Stack(port=free_port(), env=process_env())
    try:
        s.start("web")
        s.start("ws")
        s.start("matcher")
        s.start("worker")
        s.wait_http()
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def live_market(transactional_db):
    return MarketFactory()


@pytest.fixture
def make_live_trader(transactional_db):
    """Make a trader with funded wallets, logged in over HTTP to a stack."""

    def _make(stack: Stack, market: Market, *, base: str = "0", quote: str = "0") -> Trader:
        user = UserFactory()
        if Decimal(base):
            fund(user, market.base, base)
        if Decimal(quote):
            fund(user, market.quote, quote)
        return Trader(stack.url, user)

    return _make
