"""Unit tests of stops, OCO pairs, amend, GTD expiry and the rebuild API (docs/ENGINE.md)."""

from __future__ import annotations

import pytest
from book_helpers import T
from lifecycle_helpers import book_at

from matching.engine import (
    BUY,
    CANCEL_MAKER,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    Amended,
    AmendRejected,
    BookState,
    Canceled,
    CancelRejected,
    Filled,
    OrderBook,
    OrderState,
    Rejected,
    Rested,
    RestingOrder,
    StopRested,
    StopState,
    Triggered,
)

# ------------------------------------------------------------------ interface


def test_new_constants_and_event_fields():
    assert (STOP_LIMIT, STOP_MARKET, GTD) == ("stop_limit", "stop_market", "GTD")
    assert StopRested._fields == ("order_id", "side", "stop_price")
    assert Triggered._fields == ("order_id", "side", "stop_price", "last_price")
    assert Amended._fields == ("order_id", "side", "price", "quantity", "priority_kept")
    assert AmendRejected._fields == ("order_id", "reason")
    assert BookState._fields == ("last_price", "now", "orders", "stops", "oco")
    # the old query types keep their shape, so the current runner works unchanged
    assert RestingOrder._fields == ("order_id", "owner", "side", "price", "quantity")
    assert OrderState._fields[:5] == RestingOrder._fields


def test_last_price_follows_trades_not_cancels():
    b = book_at(100, (1, 1, SELL, 103, 2), (2, 2, SELL, 105, 2))
    b.submit(3, 3, BUY, MARKET, quantity=3)
    assert b.last_price() == 105
    b.cancel(2)
    assert b.last_price() == 105
    # an STP cancel of a maker is no trade
    b2 = book_at(100, (1, 1, SELL, 101, 2))
    b2.submit(2, 1, BUY, LIMIT, 101, 1, stp=CANCEL_MAKER)
    assert b2.last_price() == 100


# ----------------------------------------------------------------------- stops


def test_buy_stop_limit_waits_until_the_last_price_reaches_it():
    b = book_at(100, (1, 1, SELL, 101, 1), (2, 2, SELL, 102, 5))
    assert b.submit(10, 5, BUY, STOP_LIMIT, 103, 4, stop_price=102) == [StopRested(10, BUY, 102)]
    assert len(b) == 2
    assert b.get(10) is None
    assert b.get_stop(10) == StopState(10, 5, BUY, STOP_LIMIT, 102, 103, 4)
    assert b.depth(5) == ([], [(101, 1), (102, 5)])
    # a trade at 101 does not reach 102
    assert b.submit(11, 6, BUY, LIMIT, 101, 1) == [T(1, 11, 101, 1, BUY, 1, 6), Filled(1), Filled(11)]
    assert b.get_stop(10) is not None
    # a trade at exactly 102 triggers it; it enters as a limit order at 103 in the same call
    assert b.submit(12, 6, BUY, LIMIT, 102, 1) == [
        T(2, 12, 102, 1, BUY, 2, 6),
        Filled(12),
        Triggered(10, BUY, 102, 102),
        T(2, 10, 102, 4, BUY, 2, 5),
        Filled(2),
        Filled(10),
    ]
    assert b.stops() == []
    assert len(b) == 0


def test_sell_stop_market_triggers_when_the_price_falls_to_it():
    b = book_at(100, (1, 1, BUY, 99, 3), (2, 2, BUY, 97, 10))
    assert b.submit(10, 5, SELL, STOP_MARKET, quantity=5, stop_price=98) == [StopRested(10, SELL, 98)]
    b.submit(11, 6, SELL, MARKET, quantity=3)  # trades at 99: not yet
    assert b.get_stop(10) is not None
    events = b.submit(12, 6, SELL, LIMIT, 97, 1)
    assert events == [
        T(2, 12, 97, 1, SELL, 2, 6),
        Filled(12),
        Triggered(10, SELL, 98, 97),
        T(2, 10, 97, 5, SELL, 2, 5),
        Filled(10),
    ]
    assert b.get(2).quantity == 4


def test_a_stop_that_would_trigger_on_arrival_is_refused_unless_asked():
    b = book_at(100, (1, 1, SELL, 101, 5))
    for side, stop in ((BUY, 100), (BUY, 90), (SELL, 100), (SELL, 110)):
        assert b.submit(10, 5, side, STOP_MARKET, quantity=1, stop_price=stop) == [Rejected(10, "stop_would_trigger")]
    assert b.stops() == []
    assert b.submit(10, 5, BUY, STOP_LIMIT, 101, 2, stop_price=99, trigger_immediately=True) == [
        Triggered(10, BUY, 99, 100),
        T(1, 10, 101, 2, BUY, 1, 5),
        Filled(10),
    ]
    # it may rest after triggering, like any limit order
    assert b.submit(11, 5, SELL, STOP_LIMIT, 120, 2, stop_price=101, trigger_immediately=True) == [
        Triggered(11, SELL, 101, 101),
        Rested(11, SELL, 120, 2),
    ]


def test_without_any_trade_no_stop_triggers_on_arrival():
    b = OrderBook()
    assert b.last_price() is None
    assert b.submit(1, 1, BUY, STOP_MARKET, quantity=1, stop_price=1) == [StopRested(1, BUY, 1)]
    assert b.submit(2, 1, SELL, STOP_MARKET, quantity=1, stop_price=10**9) == [StopRested(2, SELL, 10**9)]


def test_stops_triggered_by_one_trade_enter_by_trigger_price_then_time():
    b = book_at(100, (1, 1, SELL, 110, 100))
    b.submit(10, 5, BUY, STOP_LIMIT, 99, 1, stop_price=104)
    b.submit(11, 5, BUY, STOP_LIMIT, 99, 1, stop_price=102)
    b.submit(12, 5, BUY, STOP_LIMIT, 99, 1, stop_price=104)
    b.submit(13, 5, BUY, STOP_LIMIT, 99, 1, stop_price=101)
    b.submit(14, 5, BUY, STOP_LIMIT, 99, 1, stop_price=111)  # not reached
    events = b.submit(20, 6, BUY, LIMIT, 110, 1)
    assert [e.order_id for e in events if isinstance(e, Triggered)] == [13, 11, 10, 12]
    assert [e.order_id for e in b.stops()] == [14]
    # sell stops: the highest first as the price falls
    b = book_at(100, (1, 1, BUY, 90, 100))
    for oid, stop in ((10, 95), (11, 98), (12, 95), (13, 99)):
        b.submit(oid, 5, SELL, STOP_LIMIT, 120, 1, stop_price=stop)
    events = b.submit(20, 6, SELL, MARKET, quantity=1)
    assert [e.order_id for e in events if isinstance(e, Triggered)] == [13, 11, 10, 12]


def test_cascade_a_triggered_stop_triggers_more_stops():
    b = book_at(100, (1, 1, SELL, 101, 1), (2, 2, SELL, 103, 1), (3, 3, SELL, 106, 1))
    b.submit(10, 5, BUY, STOP_MARKET, quantity=1, stop_price=101)  # its fill at 103 reaches 103
    b.submit(11, 6, BUY, STOP_MARKET, quantity=1, stop_price=103)  # its fill at 106 reaches 105
    b.submit(12, 7, BUY, STOP_MARKET, quantity=1, stop_price=105)  # nothing left to buy
    events = b.submit(20, 8, BUY, LIMIT, 101, 1)
    assert events == [
        T(1, 20, 101, 1, BUY, 1, 8),
        Filled(1),
        Filled(20),
        Triggered(10, BUY, 101, 101),
        T(2, 10, 103, 1, BUY, 2, 5),
        Filled(2),
        Filled(10),
        Triggered(11, BUY, 103, 103),
        T(3, 11, 106, 1, BUY, 3, 6),
        Filled(3),
        Filled(11),
        Triggered(12, BUY, 105, 106),
        Canceled(12, "no_liquidity", 1),
    ]
    assert b.last_price() == 106
    assert b.stops() == []


def test_a_stop_is_triggered_by_the_same_batch_that_placed_it():
    """The runner feeds a batch's commands one by one: a stop placed first, a taker after it."""
    b = book_at(100, (1, 1, SELL, 105, 2), (2, 2, BUY, 95, 2))
    batch = [
        ("submit", (10, 5, SELL, STOP_MARKET), {"quantity": 1, "stop_price": 99}),
        ("submit", (11, 6, SELL, MARKET), {"quantity": 1}),
    ]
    out = [getattr(b, name)(*args, **kw) for name, args, kw in batch]
    assert out[0] == [StopRested(10, SELL, 99)]
    assert out[1] == [
        T(2, 11, 95, 1, SELL, 2, 6),
        Filled(11),
        Triggered(10, SELL, 99, 95),
        T(2, 10, 95, 1, SELL, 2, 5),
        Filled(2),
        Filled(10),
    ]


def test_every_trade_of_a_sweep_counts_for_triggers():
    """A buy sweep that first trades below a sell stop triggers it, though the price ends higher."""
    b = book_at(100, (1, 1, SELL, 96, 1), (2, 2, SELL, 104, 1), (3, 3, BUY, 90, 5))
    b.submit(10, 5, SELL, STOP_MARKET, quantity=1, stop_price=97)
    b.submit(11, 5, BUY, STOP_MARKET, quantity=1, stop_price=103)
    events = b.submit(20, 6, BUY, MARKET, quantity=2)
    assert [e for e in events if isinstance(e, Triggered)] == [
        Triggered(10, SELL, 97, 96),
        Triggered(11, BUY, 103, 104),
    ]


def test_cancel_a_stop_before_and_after_it_triggers():
    b = book_at(100, (1, 1, SELL, 101, 1))
    b.submit(10, 5, BUY, STOP_LIMIT, 99, 3, stop_price=101)
    b.submit(11, 5, BUY, STOP_MARKET, quote_budget=500, stop_price=150)
    b.submit(12, 5, BUY, STOP_MARKET, quantity=2, stop_price=101)
    assert b.cancel(11) == [Canceled(11, "user", 0)]  # a budget-only stop has no lots
    b.submit(20, 6, BUY, LIMIT, 101, 1)  # triggers 10 (rests at 99) and 12 (no liquidity)
    assert b.get(10).quantity == 3
    assert b.cancel(10) == [Canceled(10, "user", 3)]
    assert b.cancel(12) == [CancelRejected(12, "unknown_order")]
    b.submit(13, 5, SELL, STOP_LIMIT, 90, 4, stop_price=95)
    assert b.cancel(13) == [Canceled(13, "user", 4)]
    assert b.cancel(13) == [CancelRejected(13, "unknown_order")]


def test_a_waiting_stop_id_is_taken_for_every_command():
    b = book_at(100)
    b.submit(10, 5, BUY, STOP_LIMIT, 99, 3, stop_price=120)
    assert b.submit(10, 5, BUY, LIMIT, 50, 1) == [Rejected(10, "duplicate_order_id")]  # fast path
    assert b.submit(10, 5, SELL, MARKET, quantity=1) == [Rejected(10, "duplicate_order_id")]
    assert b.submit(10, 5, BUY, LIMIT, 50, 1, time_in_force=IOC) == [Rejected(10, "duplicate_order_id")]
    assert b.submit(10, 5, SELL, STOP_MARKET, quantity=1, stop_price=1) == [Rejected(10, "duplicate_order_id")]
    assert b.amend(10, quantity=1) == [AmendRejected(10, "not_amendable")]
    b.submit(11, 5, SELL, LIMIT, 130, 1)
    assert b.submit(11, 5, BUY, STOP_MARKET, quantity=1, stop_price=130) == [Rejected(11, "duplicate_order_id")]


def test_stop_market_buy_with_a_budget_never_overspends():
    b = book_at(100, (1, 1, SELL, 101, 1), (2, 2, SELL, 110, 5))
    b.submit(10, 5, BUY, STOP_MARKET, quote_budget=250, stop_price=101)
    events = b.submit(20, 6, BUY, LIMIT, 101, 1)
    assert events[-3:] == [Triggered(10, BUY, 101, 101), T(2, 10, 110, 2, BUY, 2, 5), Filled(10)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": STOP_LIMIT, "price": 10, "quantity": 1},  # no stop price
        {"type": STOP_LIMIT, "price": 10, "quantity": 1, "stop_price": 0},
        {"type": STOP_LIMIT, "price": 10, "quantity": 1, "stop_price": True},
        {"type": STOP_LIMIT, "price": 10, "quantity": 1, "stop_price": 5, "post_only": True},
        {"type": STOP_LIMIT, "price": 10, "quantity": 1, "stop_price": 5, "trigger_immediately": 1},
        {"type": STOP_MARKET, "price": 10, "quantity": 1, "stop_price": 5},
        {"type": STOP_MARKET, "quantity": 1, "stop_price": 5, "time_in_force": "FOK"},
        {"type": LIMIT, "price": 10, "quantity": 1, "stop_price": 5},  # a stop price on a plain order
        {"type": MARKET, "quantity": 1, "stop_price": 5},
        {"type": LIMIT, "price": 10, "quantity": 1, "time_in_force": GTD},  # GTD without a time
        {"type": LIMIT, "price": 10, "quantity": 1, "expire_time": 5},  # a time without GTD
        {"type": LIMIT, "price": 10, "quantity": 1, "time_in_force": GTD, "expire_time": 5.0},
        {"type": MARKET, "quantity": 1, "time_in_force": GTD, "expire_time": 5},  # a market order never waits
        {"type": LIMIT, "price": 10, "quantity": 1, "time_in_force": IOC, "post_only": True},
    ],
)
def test_invalid_new_type_arguments(kwargs):
    b = book_at(100)
    assert b.submit(10, 5, BUY, **kwargs) == [Rejected(10, "invalid_order")]
    assert b.stops() == []
    assert len(b) == 0


# ------------------------------------------------------------------------- OCO


def oco_book():
    """Last 100; asks at 101 and 105, bids at 99 and 95; a sell OCO: take profit 104, stop loss 97 (limit 94)."""
    b = book_at(100, (1, 1, SELL, 101, 5), (2, 2, SELL, 105, 5), (3, 3, BUY, 99, 5), (4, 4, BUY, 95, 5))
    assert b.submit_oco(10, 11, 7, SELL, 4, 104, 97, 94) == [Rested(10, SELL, 104, 4), StopRested(11, SELL, 97)]
    assert b.oco_pairs() == [(10, 11)]
    return b


def test_oco_limit_leg_partly_filled_cancels_the_stop_leg_in_the_same_call():
    b = oco_book()
    events = b.submit(20, 8, BUY, LIMIT, 104, 6)
    assert events == [
        T(1, 20, 101, 5, BUY, 1, 8),
        Filled(1),
        T(10, 20, 104, 1, BUY, 7, 8),
        Filled(20),
        Canceled(11, "oco_other_leg", 4),
    ]
    assert b.get(10).quantity == 3
    assert b.oco_pairs() == []
    assert b.stops() == []
    # what is left of the limit leg is a plain order now
    assert b.amend(10, quantity=2) == [Amended(10, SELL, 104, 2, True)]
    assert b.cancel(10) == [Canceled(10, "user", 2)]


def test_oco_stop_leg_triggering_cancels_the_limit_leg():
    b = oco_book()
    events = b.submit(20, 8, SELL, LIMIT, 95, 6)
    assert events == [
        T(3, 20, 99, 5, SELL, 3, 8),
        Filled(3),
        T(4, 20, 95, 1, SELL, 4, 8),
        Filled(20),
        Canceled(10, "oco_other_leg", 4),
        Triggered(11, SELL, 97, 95),
        T(4, 11, 95, 4, SELL, 4, 7),
        Filled(4),
        Filled(11),
    ]
    assert b.oco_pairs() == []
    assert b.get(10) is None


def test_a_triggered_stop_leg_takes_its_limit_leg_away_before_any_stop_enters():
    """A sell sweep triggers a buy stop (at 103) and then an OCO's sell stop leg (at 96).

    The buy stop enters first, but the OCO's limit leg at 104 is already gone: the
    pair's stop leg was triggered, so nothing may trade with its limit leg.
    """
    b = book_at(100, (1, 1, BUY, 103, 1), (2, 2, BUY, 96, 1))
    b.submit(10, 5, BUY, STOP_MARKET, quantity=1, stop_price=103)
    assert b.submit_oco(20, 21, 7, SELL, 2, 104, 97) == [Rested(20, SELL, 104, 2), StopRested(21, SELL, 97)]
    assert b.submit(30, 6, SELL, MARKET, quantity=2) == [
        T(1, 30, 103, 1, SELL, 1, 6),
        Filled(1),
        T(2, 30, 96, 1, SELL, 2, 6),
        Filled(2),
        Filled(30),
        Canceled(20, "oco_other_leg", 2),
        Triggered(10, BUY, 103, 103),
        Canceled(10, "no_liquidity", 1),
        Triggered(21, SELL, 97, 96),
        Canceled(21, "no_liquidity", 2),
    ]
    assert len(b) == 0
    assert b.stops() == []
    assert b.oco_pairs() == []


@pytest.mark.parametrize("leg", [10, 11])
def test_canceling_either_leg_cancels_both(leg):
    b = oco_book()
    other = 21 - leg
    assert b.cancel(leg) == [Canceled(leg, "user", 4), Canceled(other, "user", 4)]
    assert b.get(10) is None
    assert b.stops() == []
    assert b.oco_pairs() == []
    assert b.cancel(other) == [CancelRejected(other, "unknown_order")]


def test_oco_legs_cannot_be_amended():
    b = oco_book()
    assert b.amend(10, quantity=2) == [AmendRejected(10, "not_amendable")]
    assert b.amend(11, quantity=2) == [AmendRejected(11, "not_amendable")]


def test_oco_limit_leg_crossing_on_arrival_cancels_the_stop_leg():
    b = book_at(100, (1, 1, BUY, 99, 2))
    assert b.submit_oco(10, 11, 7, SELL, 4, 98, 90) == [
        T(1, 10, 99, 2, SELL, 1, 7),
        Filled(1),
        Rested(10, SELL, 98, 2),
        Canceled(11, "oco_other_leg", 4),
    ]
    assert b.stops() == []
    assert b.oco_pairs() == []


def test_oco_refused_as_a_whole():
    b = book_at(100, (1, 1, SELL, 101, 5))
    # the stop would trigger at once: OCO has no trigger_immediately
    assert b.submit_oco(10, 11, 7, SELL, 4, 104, 100) == [
        Rejected(10, "stop_would_trigger"),
        Rejected(11, "stop_would_trigger"),
    ]
    assert b.submit_oco(1, 11, 7, SELL, 4, 104, 97) == [
        Rejected(1, "duplicate_order_id"),
        Rejected(11, "duplicate_order_id"),
    ]
    for bad in [
        (10, 10, 7, SELL, 4, 104, 97),  # same id twice
        (10, 11, 7, SELL, 0, 104, 97),
        (10, 11, 7, SELL, 4, None, 97),
        (10, 11, 7, "up", 4, 104, 97),
        (10, 11, 7, SELL, 4, 104, None),
    ]:
        assert b.submit_oco(*bad) == [Rejected(bad[0], "invalid_order"), Rejected(bad[1], "invalid_order")]
    assert b.submit_oco(10, 11, 7, BUY, 4, 90, 120, time_in_force=IOC) == [
        Rejected(10, "invalid_order"),
        Rejected(11, "invalid_order"),
    ]
    assert len(b) == 1
    assert b.stops() == []


def test_oco_limit_leg_canceled_by_self_trade_prevention_takes_the_stop_leg():
    b = oco_book()
    events = b.submit(20, 7, BUY, LIMIT, 104, 6, stp=CANCEL_MAKER)
    assert events == [
        T(1, 20, 101, 5, BUY, 1, 7),
        Filled(1),
        Canceled(10, "self_trade", 4),
        Rested(20, BUY, 104, 1),
        Canceled(11, "oco_other_leg", 4),
    ]


def test_a_leg_that_traded_wins_over_its_pairs_trigger_in_the_same_command():
    """A buy sweep trades at 96 (past the sell stop leg at 97) and then fills the limit leg at 104."""
    b = book_at(100, (1, 1, SELL, 96, 1))
    b.submit_oco(10, 11, 7, SELL, 2, 104, 97)
    events = b.submit(20, 8, BUY, MARKET, quantity=3)
    assert events == [
        T(1, 20, 96, 1, BUY, 1, 8),
        Filled(1),
        T(10, 20, 104, 2, BUY, 7, 8),
        Filled(10),
        Filled(20),
        Canceled(11, "oco_other_leg", 2),
    ]


def test_oco_pair_expires_together():
    b = book_at(100)
    b.submit_oco(10, 11, 7, BUY, 2, 95, 105, 106, time_in_force=GTD, expire_time=50)
    assert b.expire(49) == []
    assert b.expire(50) == [Canceled(10, "expired", 2), Canceled(11, "expired", 2)]
    assert len(b) == 0
    assert b.stops() == []
    assert b.oco_pairs() == []
