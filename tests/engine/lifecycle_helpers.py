"""Builders shared by the engine lifecycle tests (stops, OCO, amend, GTD, rebuild)."""

from __future__ import annotations

from matching.engine import BUY, LIMIT, SELL, OrderBook, Rested


def book_at(last: int, *orders) -> OrderBook:
    """A book whose last trade was at ``last`` (owners 98/99 trade 1 lot), then ``orders`` rest."""
    b = OrderBook()
    b.submit(9001, 98, SELL, LIMIT, last, 1)
    b.submit(9002, 99, BUY, LIMIT, last, 1)
    assert b.last_price() == last
    assert len(b) == 0
    for oid, owner, side, price, qty in orders:
        assert b.submit(oid, owner, side, LIMIT, price, qty) == [Rested(oid, side, price, qty)]
    b.pop_changes()
    return b
