"""Drive the engine and the reference model side by side and check everything.

After every command: identical events, identical resting orders (same priority
order), identical best bid/ask and depth, plus invariants that do not depend on
the reference: the book is never crossed, every submitted order ends the call
in exactly one terminal state, quantity is conserved for every order, no trade
has the same owner on both sides, a budget is never overspent, and the level
changes reported by ``pop_changes`` keep a mirror of the depth exact.
"""

from __future__ import annotations

from engine_reference import RefBook

from matching.engine import (
    BUY,
    LIMIT,
    MARKET,
    Canceled,
    Filled,
    OrderBook,
    Rejected,
    Rested,
    Trade,
)

TERMINAL = (Rested, Filled, Canceled, Rejected)


def _shape(events: list) -> list[tuple]:
    return [(type(e).__name__, tuple(e)) for e in events]


class Harness:
    def __init__(self) -> None:
        self.book = OrderBook()
        self.ref = RefBook()
        self.mirror: tuple[dict[int, int], dict[int, int]] = ({}, {})  # built from pop_changes
        self.orig: dict[int, int] = {}  # resting id -> quantity it rested with
        self.maker_filled: dict[int, int] = {}  # resting id -> lots filled since it rested
        self.steps = 0
        self.trades = 0

    # ------------------------------------------------------------- commands

    def submit(
        self,
        order_id,
        owner,
        side,
        type=LIMIT,
        price=None,
        quantity=None,
        quote_budget=None,
        time_in_force="GTC",
        post_only=False,
        stp="cancel_taker",
    ) -> list:
        args = (order_id, owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp)
        before = {o.order_id: o for o in self.book.orders()}
        got = self.book.submit(*args)
        want = self.ref.submit(*args)
        assert _shape(got) == _shape(want), f"submit{args}\n engine: {got}\n    ref: {want}"
        self._check_submit(args, got, before)
        self.check()
        return got

    def cancel(self, order_id) -> list:
        got = self.book.cancel(order_id)
        want = self.ref.cancel(order_id)
        assert _shape(got) == _shape(want), f"cancel({order_id})\n engine: {got}\n    ref: {want}"
        if isinstance(got[0], Canceled):
            c = got[0]
            assert self.maker_filled.pop(c.order_id) + c.remaining == self.orig.pop(c.order_id)
        self.check()
        return got

    def restart(self) -> None:
        """Rebuild the engine from its resting orders, as the worker does after a restart."""
        fresh = OrderBook()
        for o in self.book.orders():
            fresh.restore(*o)
        self.book = fresh
        self.mirror = ({}, {})
        self.check()

    # --------------------------------------------------------------- checks

    def _check_submit(self, args, events, before) -> None:
        order_id, owner, side, type_, price, quantity, budget = args[:7]
        last = events[-1]
        assert isinstance(last, TERMINAL), events
        assert last.order_id == order_id, events
        terminal = [e for e in events if isinstance(e, TERMINAL) and e.order_id == order_id]
        assert len(terminal) == 1, events
        if isinstance(last, Rejected):
            assert len(events) == 1
            return
        taker_lots = 0
        spent = 0
        for e in events[:-1]:
            if isinstance(e, Trade):
                self.trades += 1
                assert e.taker_id == order_id
                assert e.maker_owner != e.taker_owner, f"self-trade {e}"
                assert e.maker_owner == before[e.maker_id].owner
                assert e.price == before[e.maker_id].price, "trade not at the maker's price"
                assert e.quantity > 0
                taker_lots += e.quantity
                spent += e.price * e.quantity
                self.maker_filled[e.maker_id] += e.quantity
            elif isinstance(e, Filled):
                assert self.maker_filled.pop(e.order_id) == self.orig.pop(e.order_id)
            elif isinstance(e, Canceled):
                assert e.reason == "self_trade"
                assert self.maker_filled.pop(e.order_id) + e.remaining == self.orig.pop(e.order_id)
                assert before[e.order_id].owner == owner
            else:
                raise AssertionError(f"unexpected event {e}")
        if budget is not None:
            assert spent <= budget, "quote budget overspent"
        if quantity is None:  # budget-only market buy
            if isinstance(last, Filled):
                ask = self.book.best_ask()
                assert taker_lots > 0
                assert ask is not None
                assert budget - spent < ask
            else:
                assert last.remaining == 0
            return
        if isinstance(last, Rested):
            assert type_ == LIMIT
            assert last.price == price
            assert last.side == side
            assert taker_lots + last.quantity == quantity
            self.orig[order_id] = last.quantity
            self.maker_filled[order_id] = 0
        elif isinstance(last, Filled):
            assert taker_lots == quantity
        else:
            assert taker_lots + last.remaining == quantity
            if type_ == MARKET and last.reason == "no_liquidity":
                assert self.book.best_ask() is None if side == BUY else self.book.best_bid() is None

    def check(self) -> None:
        self.steps += 1
        book, ref = self.book, self.ref
        snap = [tuple(o) for o in book.orders()]
        assert snap == ref.snapshot()
        assert len(book) == len(snap)
        bid, ask = book.best_bid(), book.best_ask()
        assert (bid, ask) == (ref.best_bid(), ref.best_ask())
        if bid is not None and ask is not None:
            assert bid < ask, "crossed book"
        bids, asks = ref.depth_all()
        assert book.depth(3) == (bids[:3], asks[:3])
        assert book.depth(10**6) == (bids, asks)
        for order_id, owner, side, price, qty in snap:
            assert tuple(book.get(order_id)) == (owner, side, price, qty)
            assert self.orig[order_id] == self.maker_filled[order_id] + qty, "quantity not conserved"
        assert set(self.orig) == {o[0] for o in snap}
        changes = book.pop_changes()
        for mirror, diff, levels in zip(self.mirror, changes, (bids, asks), strict=True):
            for price, qty in diff.items():
                assert qty >= 0
                if qty:
                    mirror[price] = qty
                else:
                    mirror.pop(price, None)
            assert mirror == dict(levels), "pop_changes missed a level"
        assert book.pop_changes() == ({}, {})
