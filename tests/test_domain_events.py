"""The domain events: nothing announced before commit, subscribers in stage order, one failure isolated."""

from __future__ import annotations

import pytest
from django.db import transaction

from exchange_site import events
from exchange_site.events import MarketChanged, OrdersChanged, Stage


@pytest.fixture
def heard():
    """Subscribers on ``MarketChanged`` that record (name, market id) in call order."""
    calls: list[tuple[str, int]] = []
    handlers = []

    def add(name: str, stage: Stage, *, fail: bool = False) -> None:
        def handler(event: MarketChanged) -> None:
            calls.append((name, event.market_id))
            if fail:
                raise RuntimeError("a broken subscriber")

        handlers.append(handler)
        events.subscribe(MarketChanged, handler, stage=stage)

    yield calls, add
    for handler in handlers:
        events.unsubscribe(MarketChanged, handler)


def _announce_then_fail(market_id: int, message: str) -> None:
    with transaction.atomic():
        events.announce_on_commit(MarketChanged(market_id=market_id))
        raise RuntimeError(message)


@pytest.mark.django_db(transaction=True)
def test_an_announcement_waits_for_the_commit_and_a_rollback_drops_it(heard):
    calls, add = heard
    add("reader", Stage.REACT)
    with transaction.atomic():
        events.announce_on_commit(MarketChanged(market_id=1))
        assert calls == [], "nothing before commit"
    assert calls == [("reader", 1)]
    with pytest.raises(RuntimeError, match="the writer fails"):
        _announce_then_fail(2, "the writer fails after announcing")
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="rolled-back savepoint"):
            _announce_then_fail(3, "a rolled-back savepoint takes its announcement with it")
        events.announce_on_commit(MarketChanged(market_id=4))
    assert calls == [("reader", 1), ("reader", 4)]


def test_subscribers_run_in_stage_order_and_a_failing_one_stops_nobody(heard, caplog):
    calls, add = heard
    add("react", Stage.REACT)
    add("push", Stage.PUSH, fail=True)
    add("prepare", Stage.PREPARE)
    events.announce(MarketChanged(market_id=7))
    assert calls == [("prepare", 7), ("push", 7), ("react", 7)]
    assert "subscriber" in caplog.text
    assert "MarketChanged" in caplog.text


def test_subscribing_twice_calls_once_and_a_subscriber_hears_only_its_event_class(heard):
    calls, _ = heard

    def once(event: MarketChanged) -> None:
        calls.append(("once", event.market_id))

    events.subscribe(MarketChanged, once)
    events.subscribe(MarketChanged, once)
    try:
        events.announce(MarketChanged(market_id=6))
        events.announce(OrdersChanged(market_id=6))
    finally:
        events.unsubscribe(MarketChanged, once)
    assert calls == [("once", 6)]
    events.announce(MarketChanged(market_id=8))
    assert calls == [("once", 6)], "unsubscribed"
    with pytest.raises(AttributeError):
        MarketChanged(market_id=6).market_id = 7  # frozen: a subscriber cannot change what others see


def test_the_apps_subscribe_at_startup():
    """Real-time pushes and the matcher's wake-ups listen to order placement, in that order."""
    names = [h.__name__ for h in events._subscribers[events.OrderPlaced]]
    assert names == ["order_publish", "wake_for"]
    names = [h.__name__ for h in events._subscribers[events.BatchCommitted]]
    assert names == ["market_data_prepare", "batch_publish", "market_data_publish"]
    assert events.subscribed(events.WalletsChanged)
    assert events.subscribed(events.TradesSettled)
