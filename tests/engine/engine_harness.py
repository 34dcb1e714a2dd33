"""Drive the engine and the reference model side by side and check everything.

After every command: identical events, identical resting orders (same priority
order, same attributes), identical waiting stops and OCO pairs, identical best
bid/ask, depth and last price, plus invariants that do not depend on the
reference, checked by replaying the events alone into a mirror of the book (as
the matcher runner does): every order that enters ends in exactly one terminal
state, quantity is conserved for every order, a trade is always at the maker's
price with two different owners, a budget is never overspent, the book is never
crossed, and the level changes reported by ``pop_changes`` keep a depth mirror
exact.
"""

from __future__ import annotations

from engine_reference import RefBook

from matching.engine import (
    Amended,
    AmendRejected,
    Canceled,
    CancelRejected,
    Filled,
    OrderBook,
    Rejected,
    Rested,
    StopRested,
    Trade,
    Triggered,
)

TERMINAL = (Rested, Filled, Canceled, Rejected)


def _shape(events: list) -> list[tuple]:
    return [(type(e).__name__, tuple(e)) for e in events]


class _Entry:
    """An order meeting the book during one call: the submitted one, a triggered stop, an amended one."""

    def __init__(self, order_id: int, owner: int, quantity: int | None, budget: int | None) -> None:
        self.order_id = order_id
        self.owner = owner
        self.quantity = quantity
        self.budget = budget
        self.lots = 0
        self.spent = 0
        self.done = False


class Harness:
    def __init__(self) -> None:
        self.book = OrderBook()
        self.ref = RefBook()
        self.mirror: tuple[dict[int, int], dict[int, int]] = ({}, {})  # built from pop_changes
        self.orders: dict[int, list] = {}  # built from the events: id -> [owner, side, price, lots left]
        self.waiting: dict[int, tuple] = {}  # built from the events: waiting stop id -> its StopState
        self.steps = 0
        self.trades = 0
        self.triggers = 0
        self.amends = 0
        self.expiries = 0

    # ------------------------------------------------------------- commands

    def _both(self, name: str, *args, **kwargs) -> list:
        got = getattr(self.book, name)(*args, **kwargs)
        want = getattr(self.ref, name)(*args, **kwargs)
        assert _shape(got) == _shape(want), f"{name}{args}{kwargs}\n engine: {got}\n    ref: {want}"
        return got

    def submit(
        self,
        order_id,
        owner,
        side,
        type="limit",
        price=None,
        quantity=None,
        quote_budget=None,
        time_in_force="GTC",
        post_only=False,
        stp="cancel_taker",
        stop_price=None,
        trigger_immediately=False,
        expire_time=None,
    ) -> list:
        args = (order_id, owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp)
        got = self._both("submit", *args, stop_price, trigger_immediately, expire_time)
        first = got[0]
        if isinstance(first, StopRested):
            assert len(got) == 1
            self.waiting[order_id] = self.book.get_stop(order_id)
        elif isinstance(first, Triggered):
            self._replay(got, None, arrival=(owner, quantity, quote_budget))
        elif not isinstance(first, Rejected):
            self._replay(got, _Entry(order_id, owner, quantity, quote_budget))
        else:
            assert len(got) == 1
        self.check()
        return got

    def submit_oco(self, limit_id, stop_id, owner, side, quantity, price, stop_price, stop_limit_price=None, **kw):
        got = self._both(
            "submit_oco", limit_id, stop_id, owner, side, quantity, price, stop_price, stop_limit_price, **kw
        )
        refused = isinstance(got[0], Rejected) or all(isinstance(e, Canceled) and e.reason == "expired" for e in got)
        if refused:
            assert len(got) == 2
        else:
            self._replay(got, _Entry(limit_id, owner, quantity, None))
        self.check()
        return got

    def cancel(self, order_id) -> list:
        got = self._both("cancel", order_id)
        if not isinstance(got[0], CancelRejected):
            self._replay(got, None)
        self.check()
        return got

    def amend(self, order_id, quantity=None, price=None) -> list:
        got = self._both("amend", order_id, quantity, price)
        if not isinstance(got[0], AmendRejected):
            self.amends += 1
            self._replay(got, None)
        self.check()
        return got

    def expire(self, now) -> list:
        got = self._both("expire", now)
        self.expiries += len(got)
        self._replay(got, None)
        self.check()
        return got

    def restart(self) -> None:
        """Rebuild the engine from its snapshot, as the runner does from the database after a restart."""
        self.book = OrderBook.load(self.book.snapshot())
        self.mirror = ({}, {})
        self.check()

    def restart_piecewise(self) -> None:
        """Rebuild with the one-by-one restore calls the runner makes from database rows."""
        old = self.book
        fresh = OrderBook()
        for o in old.snapshot().orders:
            fresh.restore(*o)
        for st in old.stops():
            fresh.restore_stop(*st)
        for limit_id, stop_id in old.oco_pairs():
            fresh.restore_oco(limit_id, stop_id)
        fresh.restore_last_price(old.last_price())
        fresh.restore_clock(old.snapshot().now)
        self.book = fresh
        self.mirror = ({}, {})
        self.check()

    # --------------------------------------------------------------- checks

    def _replay(self, events: list, active: _Entry | None, arrival: tuple | None = None) -> None:
        """Apply ``events`` to the event-built mirror, checking each one is possible."""
        orders, waiting = self.orders, self.waiting
        for e in events:
            if isinstance(e, Triggered):
                self.triggers += 1
                assert active is None or active.done, f"trigger before the previous entry ended: {events}"
                st = waiting.pop(e.order_id, None)
                if st is None:  # triggered on arrival
                    owner, qty, budget = arrival
                else:
                    owner, qty, budget = st.owner, st.quantity, st.quote_budget
                    assert (e.side, e.stop_price) == (st.side, st.stop_price)
                assert e.last_price >= e.stop_price if e.side == "buy" else e.last_price <= e.stop_price
                active = _Entry(e.order_id, owner, qty, budget)
            elif isinstance(e, Amended):
                assert e.order_id in orders
                if e.priority_kept:
                    assert orders[e.order_id][2] == e.price
                    assert e.quantity <= orders[e.order_id][3]
                    orders[e.order_id][3] = e.quantity
                else:
                    active = _Entry(e.order_id, orders.pop(e.order_id)[0], e.quantity, None)
            elif isinstance(e, Trade):
                self.trades += 1
                assert active is not None, events
                assert not active.done, events
                assert e.taker_id == active.order_id, events
                maker = orders[e.maker_id]
                assert e.maker_owner != e.taker_owner, f"self-trade {e}"
                assert e.maker_owner == maker[0], events
                assert e.price == maker[2], "trade not at the maker's price"
                assert 0 < e.quantity <= maker[3]
                maker[3] -= e.quantity
                active.lots += e.quantity
                active.spent += e.price * e.quantity
            elif isinstance(e, Rested):
                assert active is not None
                assert e.order_id == active.order_id
                assert not active.done
                assert active.lots + e.quantity == active.quantity
                orders[e.order_id] = [active.owner, e.side, e.price, e.quantity]
                active.done = True
            elif isinstance(e, StopRested):
                waiting[e.order_id] = self.book.get_stop(e.order_id)
            elif isinstance(e, Filled):
                if active is not None and e.order_id == active.order_id and not active.done:
                    assert active.quantity is None or active.lots == active.quantity
                    active.done = True
                else:
                    assert orders.pop(e.order_id)[3] == 0
            elif isinstance(e, Canceled):
                if e.order_id in orders:
                    assert orders.pop(e.order_id)[3] == e.remaining
                elif e.order_id in waiting:
                    st = waiting.pop(e.order_id)
                    assert e.remaining == (st.quantity or 0)
                elif active is not None and e.order_id == active.order_id and not active.done:
                    if active.quantity is None:
                        assert e.remaining == 0
                    else:
                        assert active.lots + e.remaining == active.quantity
                    active.done = True
                else:  # the stop leg of an OCO whose limit leg traded on arrival
                    assert e.reason == "oco_other_leg", events
            elif isinstance(e, Rejected):
                assert active is not None
                assert e.order_id == active.order_id
                assert not active.done
                active.done = True
            if active is not None and active.budget is not None:
                assert active.spent <= active.budget, "quote budget overspent"
        assert active is None or active.done, f"an entry without a terminal event: {events}"

    def check(self) -> None:
        self.steps += 1
        book, ref = self.book, self.ref
        state = book.snapshot()
        snap = [tuple(o) for o in state.orders]
        assert snap == ref.snapshot()
        assert [tuple(o)[:5] for o in book.orders()] == [s[:5] for s in snap]
        assert [tuple(s) for s in state.stops] == ref.stop_snapshot()
        assert sorted(state.oco) == sorted(ref.pairs)
        assert (state.last_price, state.now) == (ref.last, ref.now)
        assert len(book) == len(snap)
        bid, ask = book.best_bid(), book.best_ask()
        assert (bid, ask) == (ref.best_bid(), ref.best_ask())
        if bid is not None and ask is not None:
            assert bid < ask, "crossed book"
        bids, asks = ref.depth_all()
        assert book.depth(3) == (bids[:3], asks[:3])
        assert book.depth(10**6) == (bids, asks)
        for order_id, owner, side, price, qty, *_ in snap:
            assert tuple(book.get(order_id)) == (owner, side, price, qty)
            assert self.orders[order_id] == [owner, side, price, qty], "the events do not add up to the book"
        assert set(self.orders) == {o[0] for o in snap}
        assert set(self.waiting) == {s.order_id for s in state.stops}
        for s in state.stops:
            assert book.get_stop(s.order_id) == s
            assert book.get(s.order_id) is None
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
