"""Small builders for the order-book tests: a book with resting orders, the trade event, the resting list."""

from __future__ import annotations

from matching.engine import LIMIT, SELL, OrderBook, Rested, Trade


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
