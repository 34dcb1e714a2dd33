"""Unit tests of amend, GTD expiry and the rebuild API (docs/ENGINE.md); stops and OCO are in test_engine_lifecycle."""

from __future__ import annotations

import random

import pytest
from book_helpers import T
from lifecycle_helpers import book_at

from matching.engine import (
    BUY,
    CANCEL_MAKER,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    Amended,
    AmendRejected,
    Canceled,
    CancelRejected,
    Filled,
    OrderBook,
    OrderState,
    Rejected,
    Rested,
    RestingOrder,
    Triggered,
    oco_need,
)

# ----------------------------------------------------------------------- amend


def test_amend_down_at_the_front_of_the_queue_keeps_priority():
    b = book_at(100, (1, 1, SELL, 101, 5), (2, 2, SELL, 101, 5))
    assert b.amend(1, quantity=2) == [Amended(1, SELL, 101, 2, True)]
    assert b.pop_changes() == ({}, {101: 7})
    assert b.submit(3, 3, BUY, LIMIT, 101, 3) == [
        T(1, 3, 101, 2, BUY, 1, 3),
        Filled(1),
        T(2, 3, 101, 1, BUY, 2, 3),
        Filled(3),
    ]


def test_amend_up_or_to_another_price_loses_priority():
    b = book_at(100, (1, 1, SELL, 101, 5), (2, 2, SELL, 101, 5))
    assert b.amend(1, quantity=6) == [Amended(1, SELL, 101, 6, False), Rested(1, SELL, 101, 6)]
    assert [o.order_id for o in b.orders()] == [2, 1]
    assert b.amend(2, price=102) == [Amended(2, SELL, 102, 5, False), Rested(2, SELL, 102, 5)]
    assert b.amend(2, price=101, quantity=4) == [Amended(2, SELL, 101, 4, False), Rested(2, SELL, 101, 4)]
    assert [(o.order_id, o.price, o.quantity) for o in b.orders()] == [(1, 101, 6), (2, 101, 4)]


def test_amend_that_crosses_trades_as_a_taker_and_rests_the_rest():
    b = book_at(100, (1, 1, SELL, 101, 2), (2, 2, BUY, 99, 5))
    assert b.amend(2, price=101) == [
        Amended(2, BUY, 101, 5, False),
        T(1, 2, 101, 2, BUY, 1, 2),
        Filled(1),
        Rested(2, BUY, 101, 3),
    ]
    assert b.last_price() == 101


def test_amend_of_a_post_only_order_that_would_cross_is_refused():
    b = book_at(100, (1, 1, SELL, 101, 2))
    assert b.submit(2, 2, BUY, LIMIT, 99, 5, post_only=True) == [Rested(2, BUY, 99, 5)]
    assert b.amend(2, price=101) == [AmendRejected(2, "post_only_would_take")]
    assert b.get(2).price == 99
    assert b.amend(2, price=100, quantity=6) == [Amended(2, BUY, 100, 6, False), Rested(2, BUY, 100, 6)]


def test_amend_follows_the_orders_own_self_trade_mode():
    b = book_at(100, (1, 1, SELL, 101, 2))
    b.submit(2, 1, BUY, LIMIT, 99, 5, stp=CANCEL_MAKER)
    assert b.amend(2, price=101) == [
        Amended(2, BUY, 101, 5, False),
        Canceled(1, "self_trade", 2),
        Rested(2, BUY, 101, 5),
    ]


def test_amend_of_a_closed_unknown_or_junk_order_is_refused():
    b = book_at(100, (1, 1, SELL, 101, 2), (2, 2, SELL, 102, 2))
    b.submit(3, 3, BUY, LIMIT, 101, 2)  # fills 1
    b.cancel(2)
    for oid in (1, 2, 999, "1", None):
        assert b.amend(oid, quantity=1) == [AmendRejected(oid, "unknown_order")]
    b.submit(4, 4, SELL, LIMIT, 110, 3)
    for kwargs in ({}, {"quantity": 0}, {"price": -1}, {"quantity": True}, {"price": 1.5}):
        assert b.amend(4, **kwargs) == [AmendRejected(4, "invalid_order")]
    assert b.amend(4, quantity=3, price=110) == [Amended(4, SELL, 110, 3, True)]  # no change


def test_amend_that_trades_can_trigger_stops():
    b = book_at(100, (1, 1, SELL, 102, 2), (2, 2, BUY, 99, 5))
    b.submit(10, 5, BUY, STOP_MARKET, quantity=1, stop_price=102)
    events = b.amend(2, price=102, quantity=1)
    assert events == [
        Amended(2, BUY, 102, 1, False),
        T(1, 2, 102, 1, BUY, 1, 2),
        Filled(2),
        Triggered(10, BUY, 102, 102),
        T(1, 10, 102, 1, BUY, 1, 5),
        Filled(1),
        Filled(10),
    ]


# ------------------------------------------------------------------------- GTD


def test_gtd_order_rests_and_expires_at_the_time_the_caller_gives():
    b = book_at(100, (1, 1, SELL, 101, 5))
    assert b.submit(2, 2, BUY, LIMIT, 101, 8, time_in_force=GTD, expire_time=1_000) == [
        T(1, 2, 101, 5, BUY, 1, 2),
        Filled(1),
        Rested(2, BUY, 101, 3),
    ]
    assert b.pop_changes() == ({101: 3}, {101: 0})
    assert b.expire(999) == []
    assert b.get(2).quantity == 3
    assert b.expire(1_000) == [Canceled(2, "expired", 3)]
    assert b.pop_changes() == ({101: 0}, {})
    assert b.expire(2_000) == []
    assert b.cancel(2) == [CancelRejected(2, "unknown_order")]


def test_gtd_expiry_during_a_batch():
    """The runner calls expire(now) first in each batch; in that batch an expired order trades with nobody."""
    b = book_at(100)
    b.submit(1, 1, SELL, LIMIT, 101, 5, time_in_force=GTD, expire_time=10)
    b.submit(2, 1, SELL, LIMIT, 102, 5, time_in_force=GTD, expire_time=30)
    b.submit(3, 3, BUY, STOP_LIMIT, 110, 1, stop_price=105, time_in_force=GTD, expire_time=20)
    b.submit(4, 3, BUY, LIMIT, 90, 1, time_in_force=GTD, expire_time=20, post_only=True)
    assert b.expire(5) == []
    # batch at now=20: expiry first, in (expire_time, id) order, then the batch's commands
    assert b.expire(20) == [Canceled(1, "expired", 5), Canceled(3, "expired", 1), Canceled(4, "expired", 1)]
    assert b.submit(5, 6, BUY, LIMIT, 102, 2) == [T(2, 5, 102, 2, BUY, 1, 6), Filled(5)]
    # an order whose time has already passed when the matcher sees it never enters
    assert b.submit(6, 6, BUY, LIMIT, 102, 2, time_in_force=GTD, expire_time=20) == [Canceled(6, "expired", 2)]
    assert b.submit(7, 6, BUY, STOP_MARKET, quote_budget=9, stop_price=200, time_in_force=GTD, expire_time=3) == [
        Canceled(7, "expired", 0)
    ]
    assert b.submit(8, 6, BUY, LIMIT, 90, 2, time_in_force=GTD, expire_time=21) == [Rested(8, BUY, 90, 2)]


def test_expire_time_only_moves_forward_and_ignores_junk():
    b = book_at(100)
    b.submit(1, 1, SELL, LIMIT, 101, 5, time_in_force=GTD, expire_time=10)
    assert b.expire(50) == [Canceled(1, "expired", 5)]
    assert b.expire(5) == []
    assert b.snapshot().now == 50
    assert b.submit(2, 1, SELL, LIMIT, 101, 5, time_in_force=GTD, expire_time=40) == [Canceled(2, "expired", 5)]
    for junk in (None, "60", 60.0, True):
        assert b.expire(junk) == []
    assert b.snapshot().now == 50


def test_a_triggered_gtd_stop_keeps_its_expiry_and_an_amended_gtd_order_too():
    b = book_at(100, (1, 1, SELL, 101, 1))
    b.submit(10, 5, BUY, STOP_LIMIT, 99, 3, stop_price=101, time_in_force=GTD, expire_time=70)
    b.submit(11, 5, BUY, LIMIT, 98, 3, time_in_force=GTD, expire_time=60)
    b.submit(20, 6, BUY, LIMIT, 101, 1)  # triggers 10, which rests at 99
    assert b.get(10).quantity == 3
    assert b.amend(11, price=97, quantity=4) == [Amended(11, BUY, 97, 4, False), Rested(11, BUY, 97, 4)]
    assert b.expire(65) == [Canceled(11, "expired", 4)]
    assert b.expire(70) == [Canceled(10, "expired", 3)]


def test_many_short_lived_gtd_orders_do_not_pile_up_in_the_expiry_heap():
    b = book_at(100)
    for i in range(1, 5_000):
        b.submit(i, 1, BUY, LIMIT, 50, 1, time_in_force=GTD, expire_time=10**9)
        b.cancel(i)
    assert len(b._expiry) < 200  # compacted as the canceled ones pile up
    for i in range(1, 2_000):
        b.submit(10_000 + i, 1, BUY, STOP_MARKET, quantity=1, stop_price=200)
        b.cancel(10_000 + i)
    assert sum(len(h) for h in b._stop_heaps) < 200


# -------------------------------------------------------------------- recovery


def _stream(seed: int, n: int) -> list:
    """A seeded random command stream with every order type, amends, cancels and a clock."""
    rng = random.Random(seed)
    cmds: list = []
    for i in range(1, n + 1):
        side = rng.choice((BUY, SELL))
        owner = rng.randint(1, 6)
        price = rng.randint(90, 110)
        r = rng.random()
        if r < 0.35:
            cmds.append(("submit", (i, owner, side, LIMIT, price, rng.randint(1, 9)), {}))
        elif r < 0.45:
            cmds.append(("submit", (i, owner, side, MARKET, None, rng.randint(1, 9)), {}))
        elif r < 0.6:
            kind = rng.choice((STOP_LIMIT, STOP_MARKET))
            cmds.append(
                (
                    "submit",
                    (i, owner, side, kind, price if kind == STOP_LIMIT else None, rng.randint(1, 9)),
                    {"stop_price": rng.randint(90, 110), "trigger_immediately": rng.random() < 0.3},
                )
            )
        elif r < 0.67:
            cmds.append(("submit_oco", (i, -i, owner, side, rng.randint(1, 9), price, rng.randint(90, 110)), {}))
        elif r < 0.75:
            cmds.append(
                (
                    "submit",
                    (i, owner, side, LIMIT, price, 3),
                    {"time_in_force": GTD, "expire_time": i + rng.randint(0, 30)},
                )
            )
        elif r < 0.85:
            cmds.append(
                ("amend", (rng.randint(1, i),), {"quantity": rng.randint(1, 9), "price": rng.choice((None, price))})
            )
        elif r < 0.95:
            cmds.append(("cancel", (rng.choice((1, -1)) * rng.randint(1, i),), {}))
        else:
            cmds.append(("expire", (i,), {}))
    return cmds


@pytest.mark.parametrize("seed", range(4))
def test_a_rebuilt_book_behaves_exactly_like_the_original(seed):
    cmds = _stream(seed, 1_200)
    live = OrderBook()
    for name, args, kw in cmds[:600]:
        getattr(live, name)(*args, **kw)
    state = live.snapshot()
    assert state.stops
    assert state.orders
    rebuilt = OrderBook.load(state)
    assert rebuilt.snapshot() == state
    live.pop_changes()
    bids, asks = rebuilt.pop_changes()  # a rebuilt book reports all its levels once
    assert (sorted(bids.items(), reverse=True), sorted(asks.items())) == live.depth(10**6)
    triggers = 0
    for name, args, kw in cmds[600:]:
        got = getattr(rebuilt, name)(*args, **kw)
        assert got == getattr(live, name)(*args, **kw), (name, args, kw)
        triggers += sum(isinstance(e, Triggered) for e in got)
    assert triggers > 0
    assert rebuilt.snapshot() == live.snapshot()


def test_nothing_triggers_twice_after_a_rebuild():
    b = book_at(100, (1, 1, SELL, 101, 5))
    b.submit(10, 5, BUY, STOP_LIMIT, 90, 1, stop_price=101)
    b.submit(11, 5, BUY, STOP_LIMIT, 90, 1, stop_price=120)
    b.submit(20, 6, BUY, LIMIT, 101, 1)  # triggers 10, which now rests at 90
    rebuilt = OrderBook.load(b.snapshot())
    assert [s.order_id for s in rebuilt.stops()] == [11]
    assert rebuilt.get(10).quantity == 1
    events = rebuilt.submit(21, 6, BUY, LIMIT, 101, 1)
    assert not any(isinstance(e, Triggered) for e in events)


def test_restore_calls_check_their_arguments():
    b = OrderBook()
    b.restore(1, 1, BUY, 99, 5, GTD, False, CANCEL_MAKER, 77)
    assert b.snapshot().orders == [OrderState(1, 1, BUY, 99, 5, GTD, False, CANCEL_MAKER, 77)]
    b.restore_stop(2, 1, SELL, STOP_MARKET, 90, None, 3)
    with pytest.raises(ValueError, match="GTD with an int expire_time"):
        b.restore(3, 1, BUY, 98, 5, GTD)  # no expire_time
    with pytest.raises(ValueError, match="GTD with an int expire_time"):
        b.restore(3, 1, BUY, 98, 5, IOC)
    with pytest.raises(ValueError, match="duplicate order id 2"):
        b.restore(2, 1, BUY, 98, 5)  # a waiting stop has that id
    with pytest.raises(ValueError, match="duplicate order id 2"):
        b.restore_stop(2, 1, SELL, STOP_MARKET, 90, None, 3)  # duplicate
    with pytest.raises(ValueError, match="bad stop order 3"):
        b.restore_stop(3, 1, SELL, LIMIT, 90, 90, 3)  # not a stop
    with pytest.raises(ValueError, match="different sides or owners"):
        b.restore_oco(1, 2)  # different sides
    with pytest.raises(ValueError, match="must rest and 99 wait"):
        b.restore_oco(1, 99)
    with pytest.raises(ValueError, match="a positive int or None"):
        b.restore_last_price(0)
    with pytest.raises(ValueError, match="an int or None"):
        b.restore_clock("now")
    b.restore_stop(3, 1, BUY, STOP_LIMIT, 120, 121, 5)
    b.restore_oco(1, 3)
    assert b.oco_pairs() == [(1, 3)]
    with pytest.raises(ValueError, match="both unlinked"):
        b.restore_oco(1, 3)  # already linked


def test_restore_with_five_arguments_still_works():
    """The current runner rebuilds with restore(id, owner, side, price, qty): unchanged."""
    b = OrderBook()
    b.restore(1, 1, BUY, 99, 5)
    assert b.orders() == [RestingOrder(1, 1, BUY, 99, 5)]
    assert b.snapshot().orders == [OrderState(1, 1, BUY, 99, 5, GTC, False, "cancel_taker", None)]
    assert b.submit(2, 2, SELL, LIMIT, 99, 2) == [T(1, 2, 99, 2, SELL, 1, 2), Filled(2)]


def test_oco_need_is_the_larger_leg_not_the_sum():
    assert oco_need(SELL, 4, 104, 94) == 4
    assert oco_need(BUY, 4, 95, 106) == 424  # the stop-limit leg buys dearer
    assert oco_need(BUY, 4, 95, 90) == 380
    assert oco_need(BUY, 4, 95, None, 500) == 500  # a stop-market leg capped by a budget
    assert oco_need(BUY, 4, 95) == 380


@pytest.mark.parametrize("expire_time", [False, 0, 5, 0.0, "5"])
def test_an_expiry_on_an_order_that_is_not_gtd_is_refused(expire_time):
    # Found by the differential test: a stray False was kept on a GTC order by one side only.
    b = OrderBook()
    assert b.submit(1, 1, BUY, LIMIT, 100, 5, expire_time=expire_time) == [Rejected(1, "invalid_order")]
    assert b.submit_oco(2, 3, 1, BUY, 5, 100, 110, None, expire_time=expire_time) == [
        Rejected(2, "invalid_order"),
        Rejected(3, "invalid_order"),
    ]
    assert len(b) == 0
