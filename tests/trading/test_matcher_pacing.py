"""The matcher's rounds under load: paced so close orders share a batch, never delayed after idle."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from exchange_site.settings import _interval_ms
from markets.services_ops import market_halt
from matching.runner import BatchPacer
from matching.worker import MarketMatcher
from tests.factories import UserFactory, fund
from trading.services import orders_place_bulk


def test_the_first_round_and_a_round_after_an_idle_one_go_at_once():
    pacer = BatchPacer(0.005)
    assert pacer.delay(100.0) == 0
    pacer.ran(100.0, busy=True)
    pacer.ran(100.004, busy=False)  # the round after a busy one found nothing: the next may wait
    pacer.ran(100.020, busy=False)
    assert pacer.delay(100.021) == 0


def test_a_round_after_a_busy_one_waits_for_the_rest_of_the_interval():
    pacer = BatchPacer(0.005)
    pacer.ran(100.0, busy=True)
    assert pacer.delay(100.001) == pytest.approx(0.004)
    assert pacer.delay(100.005) == 0
    assert pacer.delay(100.030) == 0  # a batch longer than the interval: no wait at all


def test_no_interval_never_waits():
    pacer = BatchPacer(0.0)
    pacer.ran(100.0, busy=True)
    assert pacer.delay(100.0) == 0


@pytest.mark.parametrize("raw", ["-1", "1001", "nan", "soon", ""])
def test_interval_settings_are_validated(raw, monkeypatch):
    monkeypatch.setenv("MATCHER_MIN_BATCH_INTERVAL_MS", raw)
    with pytest.raises(ImproperlyConfigured):
        _interval_ms("MATCHER_MIN_BATCH_INTERVAL_MS", "5")


def test_interval_settings_default_and_parse(monkeypatch):
    monkeypatch.delenv("MATCHER_MIN_BATCH_INTERVAL_MS", raising=False)
    assert _interval_ms("MATCHER_MIN_BATCH_INTERVAL_MS", "5") == 5
    monkeypatch.setenv("MATCHER_MIN_BATCH_INTERVAL_MS", " 2.5 ")
    assert _interval_ms("MATCHER_MIN_BATCH_INTERVAL_MS", "5") == 2.5


@pytest.mark.django_db
def test_only_a_full_batch_leaves_a_backlog_that_skips_the_wait(market):
    trader = UserFactory()
    fund(trader, market.quote, "10000")
    orders_place_bulk(market=market, orders=[(trader.pk, "buy", Decimal("100"), Decimal("1"))] * 3)
    matcher = MarketMatcher(market.pk, batch_size=2)
    assert matcher.run_batch() is not None
    assert matcher.backlog  # two read, the third waits without a wake-up of its own
    assert matcher.run_batch() is not None
    assert not matcher.backlog
    assert matcher.run_batch() is None
    assert not matcher.backlog


@pytest.mark.django_db
def test_orders_queued_on_a_halted_market_are_no_backlog(market):
    trader = UserFactory()
    fund(trader, market.quote, "10000")
    market_halt(market_id=market.pk)
    orders_place_bulk(market=market, orders=[(trader.pk, "buy", Decimal("100"), Decimal("1"))] * 3)
    matcher = MarketMatcher(market.pk, batch_size=2)
    assert matcher.run_batch() is None
    assert not matcher.backlog  # else the loop would spin until the market resumes
