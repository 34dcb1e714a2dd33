"""Order book rules: self-trade prevention and cancels (see docs/ENGINE.md)."""

from __future__ import annotations

from book_helpers import T, asks_100_101_102, book_with, resting

from matching.engine import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    FOK,
    LIMIT,
    MARKET,
    SELL,
    Canceled,
    CancelRejected,
    Filled,
    OrderBook,
    Rested,
    Trade,
)
from matching.engine.bench import generate

# -------------------------------------------------- self-trade prevention


def stp_book():
    # owner 7 has the middle order of the level at 100
    return book_with((1, 1, SELL, 100, 2), (2, 7, SELL, 100, 3), (3, 3, SELL, 100, 4))


def test_stp_cancel_taker_is_the_default():
    b = stp_book()
    assert b.submit(9, 7, BUY, price=100, quantity=8) == [
        T(1, 9, 100, 2, BUY, 1, 7),
        Filled(1),
        Canceled(9, "self_trade", 6),
    ]
    assert resting(b) == [(2, 7, SELL, 100, 3), (3, 3, SELL, 100, 4)]


def test_stp_cancel_maker_cancels_the_resting_order_and_goes_on():
    b = stp_book()
    assert b.submit(9, 7, BUY, price=100, quantity=8, stp=CANCEL_MAKER) == [
        T(1, 9, 100, 2, BUY, 1, 7),
        Filled(1),
        Canceled(2, "self_trade", 3),
        T(3, 9, 100, 4, BUY, 3, 7),
        Filled(3),
        Rested(9, BUY, 100, 2),
    ]


def test_stp_cancel_both():
    b = stp_book()
    assert b.submit(9, 7, BUY, price=100, quantity=8, stp=CANCEL_BOTH) == [
        T(1, 9, 100, 2, BUY, 1, 7),
        Filled(1),
        Canceled(2, "self_trade", 3),
        Canceled(9, "self_trade", 6),
    ]
    assert resting(b) == [(3, 3, SELL, 100, 4)]


def test_stp_mode_of_the_taker_decides():
    b = OrderBook()
    b.submit(1, 7, SELL, price=100, quantity=3, stp=CANCEL_MAKER)
    assert b.submit(2, 7, BUY, price=100, quantity=3) == [Canceled(2, "self_trade", 3)]
    assert resting(b) == [(1, 7, SELL, 100, 3)]


def test_stp_market_orders():
    b = stp_book()
    assert b.submit(9, 7, BUY, MARKET, quantity=20)[-1] == Canceled(9, "self_trade", 18)
    b = stp_book()
    assert b.submit(9, 7, BUY, MARKET, quote_budget=10_000, stp=CANCEL_MAKER)[-1] == Canceled(9, "no_liquidity", 0)
    b = stp_book()
    assert b.submit(9, 7, BUY, MARKET, quote_budget=10_000)[-1] == Canceled(9, "self_trade", 0)


def test_stp_cancel_maker_empties_a_level():
    b = book_with((1, 7, SELL, 100, 2), (2, 3, SELL, 101, 4))
    assert b.submit(9, 7, BUY, price=101, quantity=1, stp=CANCEL_MAKER) == [
        Canceled(1, "self_trade", 2),
        T(2, 9, 101, 1, BUY, 3, 7),
        Filled(9),
    ]
    assert b.depth(5) == ([], [(101, 3)])


def test_fok_with_own_order_in_the_way():
    # cancel_taker / cancel_both: own order before the fill completes -> unfillable
    for mode in (CANCEL_TAKER, CANCEL_BOTH):
        b = stp_book()
        assert b.submit(9, 7, BUY, price=100, quantity=3, time_in_force=FOK, stp=mode) == [
            Canceled(9, "fok_unfillable", 3)
        ]
        assert len(b) == 3
    # ... but fine if the fill completes before reaching it
    b = stp_book()
    assert b.submit(9, 7, BUY, price=100, quantity=2, time_in_force=FOK)[-1] == Filled(9)
    # cancel_maker: own orders do not count, and are canceled on the way
    b = stp_book()
    assert b.submit(9, 7, BUY, price=100, quantity=7, time_in_force=FOK, stp=CANCEL_MAKER) == [
        Canceled(9, "fok_unfillable", 7)
    ]
    assert len(b) == 3
    assert b.submit(9, 7, BUY, price=100, quantity=6, time_in_force=FOK, stp=CANCEL_MAKER) == [
        T(1, 9, 100, 2, BUY, 1, 7),
        Filled(1),
        Canceled(2, "self_trade", 3),
        T(3, 9, 100, 4, BUY, 3, 7),
        Filled(3),
        Filled(9),
    ]


def test_no_trade_ever_has_the_same_owner_on_both_sides():
    b = OrderBook()
    events = []
    for cmd in generate(5000, seed=7, owners=5):
        if cmd[0] == "L":
            events += b.submit(cmd[1], cmd[2], cmd[3], LIMIT, cmd[4], cmd[5])
        elif cmd[0] == "M":
            events += b.submit(cmd[1], cmd[2], cmd[3], MARKET, None, cmd[4])
        else:
            events += b.cancel(cmd[1])
    trades = [e for e in events if isinstance(e, Trade)]
    assert trades
    assert all(t.maker_owner != t.taker_owner for t in trades)
    assert any(isinstance(e, Canceled) and e.reason == "self_trade" for e in events)


# ------------------------------------------------------------------ cancel


def test_cancel_resting_order():
    b = asks_100_101_102()
    assert b.cancel(2) == [Canceled(2, "user", 3)]
    assert b.get(2) is None
    assert len(b) == 3
    assert b.depth(5) == ([], [(100, 5), (101, 4), (102, 10)])
    assert b.cancel(2) == [CancelRejected(2, "unknown_order")]


def test_cancel_partially_filled_order_reports_what_is_left():
    b = asks_100_101_102()
    b.submit(20, 20, BUY, price=100, quantity=2)
    assert b.get(1).quantity == 3
    assert b.cancel(1) == [Canceled(1, "user", 3)]
    assert b.best_ask() == 101


def test_cancel_unknown_filled_or_junk_ids_never_raises():
    b = asks_100_101_102()
    b.submit(20, 20, BUY, price=100, quantity=5)  # fills order 1
    assert b.cancel(1) == [CancelRejected(1, "unknown_order")]
    assert b.cancel(20) == [CancelRejected(20, "unknown_order")]
    assert b.cancel(999) == [CancelRejected(999, "unknown_order")]
    for junk in (None, "2", 2.0, [2], {"id": 2}, True):
        assert b.cancel(junk) == [CancelRejected(junk, "unknown_order")]
    assert len(b) == 3


def test_cancel_in_the_middle_of_a_level_keeps_priority():
    b = OrderBook()
    for i in range(1, 7):
        b.submit(i, i, SELL, price=100, quantity=1)
    b.cancel(3)
    b.cancel(4)
    b.cancel(1)
    assert [o.order_id for o in b.orders()] == [2, 5, 6]
    events = b.submit(9, 9, BUY, price=100, quantity=2)
    assert [e.maker_id for e in events if isinstance(e, Trade)] == [2, 5]
    assert b.depth(1) == ([], [(100, 1)])


def test_many_cancels_inside_one_level():
    b = OrderBook()
    n = 500
    for i in range(1, n + 1):
        b.submit(i, i, SELL, price=100, quantity=1)
    # cancel all but every 10th, from the middle out
    keep = set(range(1, n + 1, 10))
    for i in sorted(set(range(1, n + 1)) - keep, key=lambda i: abs(i - n // 2)):
        assert b.cancel(i) == [Canceled(i, "user", 1)]
    assert [o.order_id for o in b.orders()] == sorted(keep)
    assert b.depth(1) == ([], [(100, len(keep))])
    events = b.submit(10_000, 10_000, BUY, price=100, quantity=len(keep))
    assert [e.maker_id for e in events if isinstance(e, Trade)] == sorted(keep)
    assert len(b) == 0
    assert b.best_ask() is None


def test_cancel_last_order_of_a_level_removes_the_level():
    b = asks_100_101_102()
    b.pop_changes()
    b.cancel(4)
    assert b.depth(5) == ([], [(100, 5), (101, 7)])
    assert b.pop_changes() == ({}, {102: 0})
    b.cancel(1)
    assert b.best_ask() == 101
