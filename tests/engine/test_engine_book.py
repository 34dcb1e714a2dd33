"""Unit tests of the order book rules (see docs/ENGINE.md)."""

from __future__ import annotations

from book_helpers import T, asks_100_101_102, book_with, resting

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
