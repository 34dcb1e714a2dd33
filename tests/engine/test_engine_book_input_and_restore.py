"""Order book rules: duplicate and invalid input, depth and changes, restore after a restart (see docs/ENGINE.md)."""

from __future__ import annotations

import pytest
from book_helpers import T, asks_100_101_102, resting

from matching.engine import (
    BUY,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    Filled,
    OrderBook,
    Rejected,
    Rested,
)
from matching.engine.bench import generate

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
