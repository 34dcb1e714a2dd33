"""A market's book kept in a ws process, for ``@bookTicker`` and the partial-book ``@depth<levels>`` streams.

Kept the way a client keeps one (docs/REALTIME.md's recipe): a snapshot from the
database (the one ``/api/v3/depth`` serves), then the depth diffs the process receives
anyway, in sequence order. A gap drops the book and loads a new snapshot. One book per
market per process, however many sockets watch it.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Any

from markets.models import Market
from markets.selectors import depth_get

# Levels loaded from the snapshot: the partial streams send at most 20 a side.
SNAPSHOT_LEVELS = 1000


def book_snapshot(market: Market) -> dict[str, Any]:
    """The committed book as of its sequence (sync: reads the database)."""
    return depth_get(market=market, limit=SNAPSHOT_LEVELS)


class LocalBook:
    """Levels by price (Decimal) -> (price text, quantity text), and the sequence they reflect."""

    def __init__(self) -> None:
        self.sequence: int | None = None
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        # Diffs received while the snapshot loads.
        self.buffer: list[dict[str, Any]] = []
        self.loading = False
        self.sent: dict[str, Any] = {}

    @property
    def ready(self) -> bool:
        return self.sequence is not None

    def reset(self, snapshot: dict[str, Any]) -> bool:
        """Start from ``snapshot`` and apply what was buffered; False when the snapshot is older than the buffer."""
        buffered, self.buffer = self.buffer, []
        self.sequence = snapshot["sequence"]
        self.bids = {Decimal(p): (p, q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): (p, q) for p, q in snapshot["asks"]}
        for diff in buffered:
            if not self.apply(diff):
                self.sequence = None
                return False
        return True

    def apply(self, diff: dict[str, Any]) -> bool:
        """Apply one diff (``/ws/v1/``'s data); False on a gap (the book is then stale)."""
        if diff["sequence"] <= self.sequence:
            return True
        if diff["first_sequence"] > self.sequence + 1:
            return False
        for side, levels in ((self.bids, diff["bids"]), (self.asks, diff["asks"])):
            for price, qty in levels:
                key = Decimal(price)
                if Decimal(qty) == 0:
                    side.pop(key, None)
                else:
                    side[key] = (price, qty)
        self.sequence = diff["sequence"]
        return True

    def top(self, levels: int) -> tuple[list[list[str]], list[list[str]]]:
        bids = [list(self.bids[p]) for p in heapq.nlargest(levels, self.bids)]
        asks = [list(self.asks[p]) for p in heapq.nsmallest(levels, self.asks)]
        return bids, asks


def book_ticker(book: LocalBook, symbol: str) -> dict[str, Any]:
    """``<symbol>@bookTicker``: the best bid and ask ("0" for an empty side, as ``ticker/bookTicker``)."""
    bids, asks = book.top(1)
    bid = bids[0] if bids else ["0", "0"]
    ask = asks[0] if asks else ["0", "0"]
    return {"u": book.sequence, "s": symbol, "b": bid[0], "B": bid[1], "a": ask[0], "A": ask[1]}


def partial_depth(book: LocalBook, levels: int) -> dict[str, Any]:
    """``<symbol>@depth<levels>``: the top of the book as of ``lastUpdateId``."""
    bids, asks = book.top(levels)
    return {"lastUpdateId": book.sequence, "bids": bids, "asks": asks}
