"""Unit tests of the order book rules (see docs/ENGINE.md)."""

from __future__ import annotations

import pytest

from matching.engine import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    Canceled,
    CancelRejected,
    Filled,
    OrderBook,
    Rejected,
    Rested,
    Trade,
)
from matching.engine.bench import generate


def T(maker, taker, price, qty, side, maker_owner, taker_owner):  # reads like the event
    return Trade(maker, taker, price, qty, side, maker_owner, taker_owner)


def book_with(*orders):
    """orders: (id, owner, side, price, qty) resting, added in this order."""
    b = OrderBook()
    for oid, owner, side, price, qty in orders:
        assert b.submit(oid, owner, side, LIMIT, price, qty) == [Rested(oid, side, price, qty)]
    b.pop_changes()
    return b


def resting(b):
    return [tuple(o) for o in b.orders()]


def asks_100_101_102():
    # three ask levels, two orders at 101
    return book_with(
        (1, 10, SELL, 100, 5),
        (2, 11, SELL, 101, 3),
        (3, 12, SELL, 101, 4),
        (4, 13, SELL, 102, 10),
    )


# --------------------------------------------------------------- interface


def test_constants_and_event_fields_are_the_published_interface():
    assert (BUY, SELL, LIMIT, MARKET) == ("buy", "sell", "limit", "market")
    assert (GTC, IOC, FOK) == ("GTC", "IOC", "FOK")
    assert (CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH) == ("cancel_taker", "cancel_maker", "cancel_both")
    assert Rested._fields == ("order_id", "side", "price", "quantity")
    assert Trade._fields == ("maker_id", "taker_id", "price", "quantity", "taker_side", "maker_owner", "taker_owner")
    assert Filled._fields == ("order_id",)
    assert Canceled._fields == ("order_id", "reason", "remaining")
    assert Rejected._fields == ("order_id", "reason")
    assert CancelRejected._fields == ("order_id", "reason")


def test_events_are_real_namedtuple_instances():
    b = book_with((1, 1, SELL, 100, 5))
    events = b.submit(2, 2, BUY, price=100, quantity=2)
    assert [type(e) for e in events] == [Trade, Filled]
    assert events[0].maker_id == 1
    assert events[0].taker_side == BUY
    assert events[1].order_id == 2


def test_empty_book():
    b = OrderBook()
    assert b.best_bid() is None
    assert b.best_ask() is None
    assert b.depth(5) == ([], [])
    assert len(b) == 0
    assert list(b.orders()) == []
    assert b.pop_changes() == ({}, {})
    assert b.get(1) is None


# ------------------------------------------------------------ limit orders


def test_limit_orders_rest_and_show_in_best_and_depth():
    b = OrderBook()
    assert b.submit(1, 1, BUY, LIMIT, 99, 5) == [Rested(1, BUY, 99, 5)]
    assert b.submit(2, 2, BUY, price=98, quantity=1) == [Rested(2, BUY, 98, 1)]
    assert b.submit(3, 3, BUY, price=99, quantity=2) == [Rested(3, BUY, 99, 2)]
    assert b.submit(4, 4, SELL, price=101, quantity=7) == [Rested(4, SELL, 101, 7)]
    assert (b.best_bid(), b.best_ask()) == (99, 101)
    assert b.depth(10) == ([(99, 7), (98, 1)], [(101, 7)])
    assert b.depth(1) == ([(99, 7)], [(101, 7)])
    assert b.depth(0) == ([], [])
    assert len(b) == 4
    assert tuple(b.get(3)) == (3, BUY, 99, 2)
    assert b.get(3).owner == 3
    assert b.get(3).quantity == 2
    assert resting(b) == [(1, 1, BUY, 99, 5), (3, 3, BUY, 99, 2), (2, 2, BUY, 98, 1), (4, 4, SELL, 101, 7)]


def test_price_time_priority_and_maker_price():
    b = book_with((1, 1, SELL, 101, 5), (2, 2, SELL, 100, 5), (3, 3, SELL, 100, 5))
    # better price first even though it came later; same price: earlier first; maker's price
    assert b.submit(9, 9, BUY, price=105, quantity=12) == [
        T(2, 9, 100, 5, BUY, 2, 9),
        Filled(2),
        T(3, 9, 100, 5, BUY, 3, 9),
        Filled(3),
        T(1, 9, 101, 2, BUY, 1, 9),
        Filled(9),
    ]
    assert resting(b) == [(1, 1, SELL, 101, 3)]


def test_sell_taker_walks_bids_from_the_highest():
    b = book_with((1, 1, BUY, 98, 2), (2, 2, BUY, 99, 2), (3, 3, BUY, 97, 2))
    assert b.submit(9, 9, SELL, price=98, quantity=5) == [
        T(2, 9, 99, 2, SELL, 2, 9),
        Filled(2),
        T(1, 9, 98, 2, SELL, 1, 9),
        Filled(1),
        Rested(9, SELL, 98, 1),
    ]
    assert (b.best_bid(), b.best_ask()) == (97, 98)


def test_partial_fills_across_many_levels_then_rest():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, price=102, quantity=15)
    assert events == [
        T(1, 20, 100, 5, BUY, 10, 20),
        Filled(1),
        T(2, 20, 101, 3, BUY, 11, 20),
        Filled(2),
        T(3, 20, 101, 4, BUY, 12, 20),
        Filled(3),
        T(4, 20, 102, 3, BUY, 13, 20),
        Filled(20),
    ]
    assert resting(b) == [(4, 13, SELL, 102, 7)]
    assert b.pop_changes() == ({}, {100: 0, 101: 0, 102: 7})


def test_limit_stops_at_its_price_and_rests_the_remainder():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, price=101, quantity=20)
    assert events[-1] == Rested(20, BUY, 101, 8)
    assert sum(e.quantity for e in events if isinstance(e, Trade)) == 12
    assert (b.best_bid(), b.best_ask()) == (101, 102)


def test_partially_filled_maker_keeps_its_place():
    b = book_with((1, 1, SELL, 100, 5), (2, 2, SELL, 100, 5))
    b.submit(3, 3, BUY, price=100, quantity=2)
    assert b.submit(4, 4, BUY, price=100, quantity=4) == [
        T(1, 4, 100, 3, BUY, 1, 4),
        Filled(1),
        T(2, 4, 100, 1, BUY, 2, 4),
        Filled(4),
    ]


# --------------------------------------------------------------- IOC / FOK


def test_ioc_fills_what_it_can_and_cancels_the_remainder():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, price=100, quantity=8, time_in_force=IOC)
    assert events == [T(1, 20, 100, 5, BUY, 10, 20), Filled(1), Canceled(20, "ioc_remainder", 3)]
    assert b.best_bid() is None
    assert b.get(20) is None


def test_ioc_without_crossing_is_canceled_whole():
    b = asks_100_101_102()
    assert b.submit(20, 20, BUY, price=99, quantity=8, time_in_force=IOC) == [Canceled(20, "ioc_remainder", 8)]
    assert len(b) == 4


def test_ioc_fully_filled_is_filled():
    b = asks_100_101_102()
    assert b.submit(20, 20, BUY, price=100, quantity=5, time_in_force=IOC)[-1] == Filled(20)


def test_fok_fills_across_several_levels():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, price=102, quantity=22, time_in_force=FOK)
    assert events[-1] == Filled(20)
    assert [e.quantity for e in events if isinstance(e, Trade)] == [5, 3, 4, 10]
    assert len(b) == 0


def test_fok_that_would_fill_only_partly_across_several_levels_does_nothing():
    b = asks_100_101_102()
    before = resting(b)
    # 22 lots exist up to 102 but only 12 up to 101
    assert b.submit(20, 20, BUY, price=101, quantity=13, time_in_force=FOK) == [Canceled(20, "fok_unfillable", 13)]
    assert b.submit(21, 20, BUY, price=110, quantity=23, time_in_force=FOK) == [Canceled(21, "fok_unfillable", 23)]
    assert resting(b) == before
    assert b.pop_changes() == ({}, {})


def test_fok_exact_fill_within_limit():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, price=101, quantity=12, time_in_force=FOK)
    assert events[-1] == Filled(20)
    assert resting(b) == [(4, 13, SELL, 102, 10)]


def test_fok_sell_side():
    b = book_with((1, 1, BUY, 100, 3), (2, 2, BUY, 99, 3))
    assert b.submit(9, 9, SELL, price=99, quantity=7, time_in_force=FOK) == [Canceled(9, "fok_unfillable", 7)]
    assert b.submit(9, 9, SELL, price=99, quantity=6, time_in_force=FOK)[-1] == Filled(9)


# --------------------------------------------------------------- post-only


def test_post_only_rests_when_it_does_not_cross():
    b = asks_100_101_102()
    assert b.submit(20, 20, BUY, price=99, quantity=3, post_only=True) == [Rested(20, BUY, 99, 3)]


def test_post_only_that_would_take_is_rejected_and_book_unchanged():
    b = asks_100_101_102()
    before = resting(b)
    assert b.submit(20, 20, BUY, price=100, quantity=3, post_only=True) == [Rejected(20, "post_only_would_take")]
    assert resting(b) == before
    assert b.get(20) is None


def test_post_only_needs_gtc():
    b = OrderBook()
    assert b.submit(1, 1, BUY, price=99, quantity=3, post_only=True, time_in_force=IOC) == [
        Rejected(1, "invalid_order")
    ]


# ----------------------------------------------------------- market orders


def test_market_by_quantity_sweeps_levels():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, MARKET, quantity=10)
    assert events[-1] == Filled(20)
    assert [(e.price, e.quantity) for e in events if isinstance(e, Trade)] == [(100, 5), (101, 3), (101, 2)]
    assert resting(b) == [(3, 12, SELL, 101, 2), (4, 13, SELL, 102, 10)]


def test_market_without_liquidity_is_canceled_never_rested():
    b = book_with((1, 1, BUY, 100, 5))
    assert b.submit(20, 20, BUY, MARKET, quantity=10) == [Canceled(20, "no_liquidity", 10)]
    assert b.submit(21, 20, BUY, MARKET, quote_budget=1000) == [Canceled(21, "no_liquidity", 0)]
    assert b.get(20) is None
    assert b.get(21) is None
    assert len(b) == 1


def test_market_runs_out_of_liquidity_after_partial_fills():
    b = asks_100_101_102()
    events = b.submit(20, 20, BUY, MARKET, quantity=30)
    assert events[-1] == Canceled(20, "no_liquidity", 8)
    assert len(b) == 0
    assert b.best_ask() is None


def test_market_sell():
    b = book_with((1, 1, BUY, 100, 5), (2, 2, BUY, 90, 5))
    assert b.submit(9, 9, SELL, MARKET, quantity=6) == [
        T(1, 9, 100, 5, SELL, 1, 9),
        Filled(1),
        T(2, 9, 90, 1, SELL, 2, 9),
        Filled(9),
    ]


def test_quote_budget_buy_ends_mid_level_with_a_lot_remainder():
    b = book_with((1, 1, SELL, 10, 5), (2, 2, SELL, 12, 5))
    # 5 lots at 10 = 50, then 33 left buys 2 lots at 12 = 24, 9 left < 12
    events = b.submit(3, 3, BUY, MARKET, quote_budget=83)
    assert events == [
        T(1, 3, 10, 5, BUY, 1, 3),
        Filled(1),
        T(2, 3, 12, 2, BUY, 2, 3),
        Filled(3),
    ]
    spent = sum(e.price * e.quantity for e in events if isinstance(e, Trade))
    assert spent == 74 <= 83
    assert resting(b) == [(2, 2, SELL, 12, 3)]


def test_quote_budget_never_overspends_when_exactly_divisible():
    b = book_with((1, 1, SELL, 7, 100))
    events = b.submit(3, 3, BUY, MARKET, quote_budget=70)
    assert events == [T(1, 3, 7, 10, BUY, 1, 3), Filled(3)]


def test_quote_budget_too_small_for_one_lot():
    b = book_with((1, 1, SELL, 10, 5))
    assert b.submit(3, 3, BUY, MARKET, quote_budget=9) == [Canceled(3, "insufficient_budget", 0)]
    assert resting(b) == [(1, 1, SELL, 10, 5)]


def test_quote_budget_buy_that_empties_the_book():
    b = book_with((1, 1, SELL, 10, 5))
    assert b.submit(3, 3, BUY, MARKET, quote_budget=1000)[-1] == Canceled(3, "no_liquidity", 0)


def test_market_quantity_with_budget_cap():
    # quantity reached first
    b = book_with((1, 1, SELL, 10, 5), (2, 2, SELL, 12, 5))
    assert b.submit(3, 3, BUY, MARKET, quantity=6, quote_budget=1000)[-1] == Filled(3)
    # budget runs out first: 3 lots at 12 = 36, 4 left < 12
    assert b.submit(4, 4, BUY, MARKET, quantity=10, quote_budget=40) == [
        T(2, 4, 12, 3, BUY, 2, 4),
        Canceled(4, "insufficient_budget", 7),
    ]
    assert resting(b) == [(2, 2, SELL, 12, 1)]


def test_market_sell_with_budget_is_invalid():
    b = book_with((1, 1, BUY, 10, 5))
    assert b.submit(3, 3, SELL, MARKET, quantity=1, quote_budget=10) == [Rejected(3, "invalid_order")]


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


# --------------------------------------------------- duplicates / invalid


def test_duplicate_order_id_is_rejected():
    b = asks_100_101_102()
    assert b.submit(2, 99, BUY, price=1, quantity=1) == [Rejected(2, "duplicate_order_id")]
    assert b.submit(2, 99, SELL, MARKET, quantity=1) == [Rejected(2, "duplicate_order_id")]
    assert b.get(2).quantity == 3
    assert len(b) == 4


def test_id_of_an_order_that_left_the_book_may_be_used_again():
    # documented: only ids resting in the book are known (a rebuilt book knows nothing else)
    b = asks_100_101_102()
    b.cancel(1)
    assert b.submit(1, 5, BUY, price=50, quantity=1) == [Rested(1, BUY, 50, 1)]


INVALID = [
    dict(quantity=0),
    dict(quantity=-1),
    dict(price=0),
    dict(price=-5),
    dict(price=None),
    dict(quantity=None),
    dict(price=1.5),
    dict(quantity=2.0),
    dict(quantity="3"),
    dict(quantity=True),
    dict(price=True),
    dict(side="BUY"),
    dict(side=None),
    dict(side=["buy"]),
    dict(type="stop"),
    dict(type=None),
    dict(time_in_force="GTD"),
    dict(time_in_force=["GTC"]),
    dict(stp="none"),
    dict(stp={}),
    dict(post_only=1),
    dict(post_only=None),
    dict(quote_budget=100),
    dict(owner=None),
    dict(owner="1"),
    dict(order_id=None),
    dict(order_id="5"),
    dict(order_id=5.0),
    dict(order_id=[5]),
    dict(post_only=True, time_in_force=FOK),
    dict(type=MARKET),  # market with a price
    dict(type=MARKET, price=None, quantity=None),
    dict(type=MARKET, price=None, quantity=0),
    dict(type=MARKET, price=None, quantity=None, quote_budget=0),
    dict(type=MARKET, price=None, quote_budget=-10),
    dict(type=MARKET, price=None, time_in_force=FOK),
    dict(type=MARKET, price=None, post_only=True),
    dict(type=MARKET, price=None, side=SELL, quantity=None, quote_budget=50),
]


@pytest.mark.parametrize("bad", INVALID, ids=[repr(b) for b in INVALID])
def test_invalid_orders_are_rejected_not_raised(bad):
    b = asks_100_101_102()
    args = dict(order_id=50, owner=5, side=BUY, type=LIMIT, price=100, quantity=3)
    args.update(bad)
    assert b.submit(**args) == [Rejected(args["order_id"], "invalid_order")]
    assert len(b) == 4
    assert b.pop_changes() == ({}, {})


def test_market_time_in_force_ioc_is_the_same_as_gtc():
    a, b = asks_100_101_102(), asks_100_101_102()
    assert a.submit(9, 9, BUY, MARKET, quantity=7, time_in_force=IOC) == b.submit(9, 9, BUY, MARKET, quantity=7)


# ------------------------------------------------------- depth and changes


def test_pop_changes_reports_only_changed_levels():
    b = OrderBook()
    b.submit(1, 1, BUY, price=99, quantity=5)
    b.submit(2, 2, SELL, price=101, quantity=5)
    b.submit(3, 3, SELL, price=102, quantity=5)
    assert b.pop_changes() == ({99: 5}, {101: 5, 102: 5})
    assert b.pop_changes() == ({}, {})
    b.submit(4, 4, BUY, price=101, quantity=7)  # takes 101, rests 2 at 101
    assert b.pop_changes() == ({101: 2}, {101: 0})
    b.submit(5, 5, BUY, price=98, quantity=1)
    b.cancel(5)  # back where it was since the last pop: need not be reported
    b.submit(6, 6, SELL, price=102, quantity=1)
    b.cancel(6)
    assert b.pop_changes() == ({}, {})
    b.cancel(1)
    assert b.pop_changes() == ({99: 0}, {})


def test_depth_aggregates_levels():
    b = OrderBook()
    for i, (side, price, qty) in enumerate([(BUY, 10, 1), (BUY, 10, 2), (BUY, 8, 4), (SELL, 12, 3), (SELL, 15, 1)]):
        b.submit(i + 1, i + 1, side, price=price, quantity=qty)
    assert b.depth(1) == ([(10, 3)], [(12, 3)])
    assert b.depth(5) == ([(10, 3), (8, 4)], [(12, 3), (15, 1)])


# ----------------------------------------------------------------- restore


def test_restore_rebuilds_the_same_book():
    b = asks_100_101_102()
    b.submit(5, 5, BUY, price=90, quantity=2)
    b.submit(6, 6, BUY, price=90, quantity=3)
    b.submit(20, 20, BUY, price=100, quantity=1)  # partial fill of order 1
    fresh = OrderBook()
    for o in b.orders():
        assert fresh.restore(*o) is None
    assert resting(fresh) == resting(b)
    assert fresh.depth(10) == b.depth(10)
    assert fresh.pop_changes() == ({90: 5}, {100: 4, 101: 7, 102: 10})
    # same future behaviour
    for book in (b, fresh):
        assert book.submit(30, 30, BUY, MARKET, quantity=9) == [
            T(1, 30, 100, 4, BUY, 10, 30),
            Filled(1),
            T(2, 30, 101, 3, BUY, 11, 30),
            Filled(2),
            T(3, 30, 101, 2, BUY, 12, 30),
            Filled(30),
        ]


def test_restore_refuses_duplicates_crossing_and_bad_input():
    b = OrderBook()
    b.restore(1, 1, BUY, 100, 5)
    b.restore(2, 1, SELL, 101, 5)
    with pytest.raises(ValueError, match="duplicate order id"):
        b.restore(1, 1, BUY, 99, 5)
    with pytest.raises(ValueError, match="would cross the book"):
        b.restore(3, 1, SELL, 100, 5)
    with pytest.raises(ValueError, match="would cross the book"):
        b.restore(3, 1, BUY, 101, 5)
    for bad in [(3, 1, "x", 99, 5), (3, 1, BUY, 0, 5), (3, 1, BUY, 99, 0), (3, None, BUY, 99, 1), (3, 1, BUY, 9.0, 1)]:
        with pytest.raises(ValueError, match="restore: "):
            b.restore(*bad)
    assert len(b) == 2


def _apply(book, cmd):
    if cmd[0] == "L":
        return book.submit(cmd[1], cmd[2], cmd[3], LIMIT, cmd[4], cmd[5])
    if cmd[0] == "M":
        return book.submit(cmd[1], cmd[2], cmd[3], MARKET, None, cmd[4])
    return book.cancel(cmd[1])


@pytest.mark.parametrize("seed", [1, 2])
def test_rebuilt_book_behaves_like_the_one_never_stopped(seed):
    cmds = generate(12_000, seed=seed, owners=50)
    live = OrderBook()
    rebuilt = None
    for i, cmd in enumerate(cmds):
        if i % 3000 == 1500:  # restart every so often, from the live book's resting orders
            rebuilt = OrderBook()
            for o in live.orders():
                rebuilt.restore(*o)
        got = _apply(live, cmd)
        if rebuilt is not None:
            assert _apply(rebuilt, cmd) == got
    assert resting(rebuilt) == resting(live)
    assert rebuilt.depth(100) == live.depth(100)
