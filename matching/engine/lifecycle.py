"""What happens to orders besides their entry: stops, OCO pairs, amends, GTD expiry, rebuild.

A mixin of :class:`~matching.engine.book.OrderBook` (kept apart so ``book.py`` stays
about matching).  Every piece of state here is empty for a book that only sees
plain orders, and the book's hot paths look at it with one truth test
(``if stops``), so plain order flow pays next to nothing for it.

State:

* ``_stops``: waiting stop id -> ``(StopState, arrival seq)``, plus one heap per
  side: buy stops ``(stop_price, seq, id)`` (lowest triggers first as the price
  rises), sell stops ``(-stop_price, seq, id)`` (highest first as it falls).
  Heap entries of stops that left are skipped lazily and compacted away.
* ``_oco``: leg id -> other leg id, both ways.  A pair is linked only while
  both legs are untouched: the limit leg resting unfilled, the stop leg waiting.
* ``_expiry``: heap ``(expire_time, order id)`` of GTD orders and stops, lazily
  cleaned the same way.
* ``_last``: the last trade price (set by the matching loops); ``_now``: the
  latest time given to :meth:`expire`.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from .events import (
    BUY,
    CANCEL_TAKER,
    DUPLICATE_ORDER_ID,
    EXPIRED,
    GTC,
    GTD,
    INVALID_ORDER,
    LIMIT,
    MARKET,
    NOT_AMENDABLE,
    OCO_OTHER_LEG,
    POST_ONLY_WOULD_TAKE,
    STOP_LIMIT,
    STOP_MARKET,
    STOP_WOULD_TRIGGER,
    UNKNOWN_ORDER,
    USER,
    Amended,
    AmendRejected,
    BookState,
    Canceled,
    Rejected,
    Rested,
    StopRested,
    StopState,
    Trade,
    Triggered,
)
from .validate import _normalize

if TYPE_CHECKING:
    from .book import OrderBook

_new = tuple.__new__
_type = type


def _posint(x: object) -> bool:
    return _type(x) is int and x > 0  # type: ignore[operator]


def oco_need(
    side: str, quantity: int, price: int, stop_limit_price: int | None = None, quote_budget: int | None = None
) -> int:
    """What an OCO pair must lock, in engine units: the larger need of its two legs, not the sum.

    A sell locks ``quantity`` lots (both legs sell the same lots).  A buy locks
    quote budget units (ticks x lots): the larger of ``price * quantity`` and the
    stop leg's ``stop_limit_price * quantity``, or its ``quote_budget`` cap for a
    stop-market leg (with neither, only the limit leg's need is known and the
    service must decide what a market buy may spend).  At most one leg ever
    trades, so one lock covers the pair.
    """
    if side != BUY:
        return quantity
    need = price * quantity
    stop_need = stop_limit_price * quantity if stop_limit_price is not None else quote_budget
    return need if stop_need is None or stop_need < need else stop_need


class Lifecycle:
    """Stops, OCO, amend, GTD expiry and the rebuild API (mixed into ``OrderBook``)."""

    __slots__ = ()

    # Declared for type checkers; the slots live on OrderBook.
    _index: dict[int, list]
    _stops: dict[int, tuple[StopState, int]]
    _stop_heaps: tuple[list, list]
    _stop_seq: int
    _oco: dict[int, int]
    _expiry: list[tuple[int, int]]
    _expiry_limit: int
    _last: int | None
    _now: int | None
    _bids: Any
    _asks: Any

    # ---------------------------------------------------------------- queries

    def last_price(self) -> int | None:
        """The price of the last trade (restored by ``restore_last_price``)."""
        return self._last

    def get_stop(self, order_id: int) -> StopState | None:
        """A waiting (untriggered) stop order, or None."""
        if _type(order_id) is not int:
            return None
        entry = self._stops.get(order_id)
        return None if entry is None else entry[0]

    def stops(self) -> list[StopState]:
        """Waiting stops in arrival order: feeding them to ``restore_stop`` rebuilds them."""
        return [st for st, _ in sorted(self._stops.values(), key=lambda e: e[1])]

    def oco_pairs(self) -> list[tuple[int, int]]:
        """Linked OCO pairs as ``(limit leg id, stop leg id)``, by stop leg arrival."""
        stops = self._stops
        pairs = [(other, leg) for leg, other in self._oco.items() if leg in stops]
        return sorted(pairs, key=lambda p: stops[p[1]][1])

    def snapshot(self) -> BookState:
        """Everything needed to rebuild this book exactly (see ``load``)."""
        orders = []
        for side in (self._bids, self._asks):
            levels = side.levels
            for k in reversed(side.keys):
                orders.extend(self._state_of(o) for o in levels[k] if o[0])  # type: ignore[attr-defined]
        return BookState(self._last, self._now, orders, self.stops(), self.oco_pairs())

    # ------------------------------------------------------------ rebuilding

    @classmethod
    def load(cls, state: BookState) -> OrderBook:
        """A new book that behaves exactly like the one ``state`` was taken from."""
        book = cls()
        for o in state.orders:
            book.restore(*o)  # type: ignore[attr-defined]
        for st in state.stops:
            book.restore_stop(*st)  # type: ignore[attr-defined]
        for limit_id, stop_id in state.oco:
            book.restore_oco(limit_id, stop_id)  # type: ignore[attr-defined]
        book.restore_last_price(state.last_price)  # type: ignore[attr-defined]
        book.restore_clock(state.now)  # type: ignore[attr-defined]
        return book  # type: ignore[return-value]

    def restore_stop(
        self,
        order_id: int,
        owner: int,
        side: str,
        type: str,
        stop_price: int,
        price: int | None = None,
        quantity: int | None = None,
        quote_budget: int | None = None,
        time_in_force: str = GTC,
        stp: str = CANCEL_TAKER,
        expire_time: int | None = None,
    ) -> None:
        """Put back a waiting stop; call in arrival order.  Never triggers; ValueError on bad input."""
        norm = _normalize(
            side, type, price, quantity, quote_budget, time_in_force, False, stp, stop_price, False, expire_time
        )
        if not (_type(order_id) is int and _type(owner) is int) or norm is None or norm[1] is norm[2]:
            raise ValueError(f"restore_stop: bad stop order {order_id!r}")
        if order_id in self._index or order_id in self._stops:
            raise ValueError(f"restore_stop: duplicate order id {order_id}")
        side_c, type_c, _, tif, stp_c = norm
        self._add_stop(
            order_id, owner, side_c, type_c, stop_price, price, quantity, quote_budget, tif, stp_c, expire_time
        )

    def restore_oco(self, limit_id: int, stop_id: int) -> None:
        """Link a restored resting limit leg and a restored waiting stop leg."""
        o = self._index.get(limit_id) if _type(limit_id) is int else None
        entry = self._stops.get(stop_id) if _type(stop_id) is int else None
        if o is None or entry is None or limit_id in self._oco or stop_id in self._oco:
            raise ValueError(f"restore_oco: {limit_id!r} must rest and {stop_id!r} wait, both unlinked")
        if o[3].side.name != entry[0].side or o[2] != entry[0].owner:
            raise ValueError("restore_oco: legs of different sides or owners")
        self._oco[limit_id] = stop_id
        self._oco[stop_id] = limit_id

    def restore_last_price(self, price: int | None) -> None:
        """Set the last trade price (the newest trade in the database), None if none yet."""
        if price is not None and not _posint(price):
            raise ValueError("restore_last_price: a positive int or None")
        self._last = price

    def restore_clock(self, now: int | None) -> None:
        """Set the time of the last ``expire`` call (None: none yet)."""
        if now is not None and _type(now) is not int:
            raise ValueError("restore_clock: an int or None")
        self._now = now

    # -------------------------------------------------------------- commands

    def expire(self, now: int) -> list:
        """Expire every GTD order and stop whose ``expire_time <= now``; the caller owns the clock.

        Returns ``Canceled(id, "expired", remaining)`` per order, by (expire_time, id);
        an expiring OCO leg takes its pair along (also ``expired``).  The time only
        moves forward: an earlier ``now`` than a previous call expires nothing new.
        """
        if _type(now) is not int:
            return []
        if self._now is not None and now < self._now:
            now = self._now
        self._now = now
        events: list = []
        heap = self._expiry
        while heap and heap[0][0] <= now:
            when, oid = heappop(heap)
            if self._expiry_time(oid) != when:
                continue  # gone, or a newer incarnation of the id
            events.append(_new(Canceled, (oid, EXPIRED, self._take(oid))))
            other = self._oco.pop(oid, None)
            if other is not None:
                del self._oco[other]
                events.append(_new(Canceled, (other, EXPIRED, self._take(other))))
        return events

    def amend(self, order_id: int, quantity: int | None = None, price: int | None = None) -> list:
        """Change the remaining quantity and/or the price of a resting order.

        ``quantity`` is the new number of lots left to fill (what ``get`` reports).
        Same price and fewer lots: done in place, time priority kept.  Anything else:
        the order leaves its place and re-enters as a taker under its own time in
        force, post-only and STP mode (a post-only amend that would cross is refused
        and the order stays as it was).
        """
        if _type(order_id) is not int:
            return [_new(AmendRejected, (order_id, UNKNOWN_ORDER))]
        o = self._index.get(order_id)
        if o is None:
            reason = NOT_AMENDABLE if order_id in self._stops else UNKNOWN_ORDER
            return [_new(AmendRejected, (order_id, reason))]
        if order_id in self._oco:
            return [_new(AmendRejected, (order_id, NOT_AMENDABLE))]
        if (quantity is None and price is None) or not (
            (quantity is None or _posint(quantity)) and (price is None or _posint(price))
        ):
            return [_new(AmendRejected, (order_id, INVALID_ORDER))]
        lvl = o[3]
        side = lvl.side
        new_price = lvl.price if price is None else price
        new_qty = o[0] if quantity is None else quantity
        if new_price == lvl.price and new_qty <= o[0]:
            if new_qty < o[0]:
                lvl.total -= o[0] - new_qty
                o[0] = new_qty
                side.dirty.add(lvl.key)
            return [_new(Amended, (order_id, side.name, new_price, new_qty, True))]
        tif, post_only, stp, expire_time = o[4] if len(o) > 4 else (GTC, False, CANCEL_TAKER, None)
        opp = self._asks if side.name == BUY else self._bids
        if post_only and opp.keys and opp.keys[-1] >= -side.sign * new_price:
            return [_new(AmendRejected, (order_id, POST_ONLY_WOULD_TAKE))]
        del self._index[order_id]
        self._unlink(o)  # type: ignore[attr-defined]
        events = [_new(Amended, (order_id, side.name, new_price, new_qty, False))]
        self._enter(  # type: ignore[attr-defined]
            events, order_id, o[2], side.name, LIMIT, new_price, new_qty, None, tif, post_only, stp, expire_time
        )
        if self._stops and len(events) > 2:
            self._after(events, 1)
        return events

    def submit_oco(
        self,
        limit_id: int,
        stop_id: int,
        owner: int,
        side: str,
        quantity: int,
        price: int,
        stop_price: int,
        stop_limit_price: int | None = None,
        quote_budget: int | None = None,
        time_in_force: str = GTC,
        expire_time: int | None = None,
        stp: str = CANCEL_TAKER,
    ) -> list:
        """One-cancels-the-other: a limit leg at ``price`` and a stop leg, same side and quantity.

        The stop leg is a stop-limit at ``stop_limit_price``, or a stop-market when
        that is None (``quote_budget`` caps what a buy stop-market leg may spend).
        The limit leg enters first; if it trades at all the stop leg is
        ``Canceled(stop, "oco_other_leg", quantity)`` at once, else both are linked.
        Refused as a whole (both legs ``Rejected``) when invalid, on a duplicate id,
        or when the stop would trigger at once (``stop_would_trigger``).
        """
        both = (limit_id, stop_id)
        stop_type = STOP_MARKET if stop_limit_price is None else STOP_LIMIT
        norm = None
        if (
            _type(limit_id) is int
            and _type(stop_id) is int
            and limit_id != stop_id
            and _type(owner) is int
            and _posint(price)
            and time_in_force in (GTC, GTD)
        ):
            norm = _normalize(
                side,
                stop_type,
                stop_limit_price,
                quantity,
                quote_budget,
                time_in_force,
                False,
                stp,
                stop_price,
                False,
                expire_time,
            )
        if norm is None or quantity is None:
            return [_new(Rejected, (i, INVALID_ORDER)) for i in both]
        side_c, type_c, _, tif, stp_c = norm
        index, stops = self._index, self._stops
        if limit_id in index or limit_id in stops or stop_id in index or stop_id in stops:
            return [_new(Rejected, (i, DUPLICATE_ORDER_ID)) for i in both]
        if tif is GTD and self._now is not None and expire_time <= self._now:  # type: ignore[operator]
            return [_new(Canceled, (i, EXPIRED, quantity)) for i in both]
        last = self._last
        if last is not None and (last >= stop_price if side_c is BUY else last <= stop_price):
            return [_new(Rejected, (i, STOP_WOULD_TRIGGER)) for i in both]
        events: list = []
        self._enter(events, limit_id, owner, side_c, LIMIT, price, quantity, None, tif, False, stp_c, expire_time)  # type: ignore[attr-defined]
        if len(events) == 1 and events[0].__class__ is Rested:
            self._add_stop(
                stop_id,
                owner,
                side_c,
                type_c,
                stop_price,
                stop_limit_price,
                quantity,
                quote_budget,
                tif,
                stp_c,
                expire_time,
            )
            self._oco[limit_id] = stop_id
            self._oco[stop_id] = limit_id
            events.append(_new(StopRested, (stop_id, side_c, stop_price)))
            return events
        events.append(_new(Canceled, (stop_id, OCO_OTHER_LEG, quantity)))
        if self._stops:
            self._after(events, 0)
        return events

    # ------------------------------------------------------------- internals

    def _add_stop(
        self,
        order_id: int,
        owner: int,
        side: str,
        type_: str,
        stop_price: int,
        price: int | None,
        quantity: int | None,
        quote_budget: int | None,
        tif: str,
        stp: str,
        expire_time: int | None,
    ) -> StopRested:
        self._stop_seq += 1
        seq = self._stop_seq
        st = _new(
            StopState, (order_id, owner, side, type_, stop_price, price, quantity, quote_budget, tif, stp, expire_time)
        )
        self._stops[order_id] = (st, seq)
        if side is BUY:
            heappush(self._stop_heaps[0], (stop_price, seq, order_id))
        else:
            heappush(self._stop_heaps[1], (-stop_price, seq, order_id))
        if len(self._stop_heaps[0]) + len(self._stop_heaps[1]) > 2 * len(self._stops) + 64:
            self._compact_stops()
        if expire_time is not None:
            self._expire_at(expire_time, order_id)  # type: ignore[attr-defined]
        return _new(StopRested, (order_id, side, stop_price))

    def _compact_stops(self) -> None:
        stops = self._stops
        for heap in self._stop_heaps:
            live = [e for e in heap if (s := stops.get(e[2])) is not None and s[1] == e[1]]
            heapify(live)
            heap[:] = live

    def _compact_expiry(self) -> None:
        live = [e for e in self._expiry if self._expiry_time(e[1]) == e[0]]
        heapify(live)
        self._expiry[:] = live
        self._expiry_limit = 2 * len(live) + 64

    def _expiry_time(self, order_id: int) -> int | None:
        o = self._index.get(order_id)
        if o is not None:
            return o[4][3] if len(o) > 4 else None
        entry = self._stops.get(order_id)
        return None if entry is None else entry[0].expire_time

    def _take(self, order_id: int) -> int:
        """Remove a resting order or waiting stop; its remaining lots (0 for a budget-only stop)."""
        o = self._index.pop(order_id, None)
        if o is not None:
            return self._unlink(o)  # type: ignore[attr-defined]
        st = self._stops.pop(order_id)[0]
        return st.quantity or 0

    def _cancel_stop(self, order_id: int) -> list:
        events = [_new(Canceled, (order_id, USER, self._take(order_id)))]
        if order_id in self._oco:
            self._cancel_pair(events, order_id, USER)
        return events

    def _cancel_pair(self, events: list, leg: int, reason: str) -> list:
        """Unlink ``leg`` from its pair and cancel the other leg with ``reason``."""
        other = self._oco.pop(leg)
        del self._oco[other]
        events.append(_new(Canceled, (other, reason, self._take(other))))
        return events

    def _after(self, events: list, start: int) -> list:
        """The consequences of ``events[start:]``, appended in order; returns ``events``.

        1. A Trade, Filled or Canceled of a linked OCO leg cancels the other leg
           (``oco_other_leg``).  This comes first, so a leg that traded wins over
           its pair's trigger in the same command.
        2. Each Trade, in order, triggers the waiting stops its price crosses:
           buy stops with stop_price <= price (lowest stop first), sell stops with
           stop_price >= price (highest first), ties by arrival.  A triggered OCO
           stop leg cancels its limit leg at once, before any triggered stop enters
           (so an earlier triggered stop cannot trade with it).
        3. Triggered stops enter one by one, first triggered first: ``Triggered``,
           then its entry events; their trades go through 1 and 2 again
           (cascades), the new triggers queued at the back.
        """
        queue: list = []  # (StopState, trigger price), first triggered first
        i = start
        stops = self._stops
        oco = self._oco
        while True:
            n = len(events)
            if oco:
                for j in range(i, n):
                    ev = events[j]
                    cls = ev.__class__
                    if cls is Rested or cls is StopRested or cls is Triggered or cls is Amended:
                        continue
                    if ev[0] in oco:
                        self._cancel_pair(events, ev[0], OCO_OTHER_LEG)
                    if cls is Trade and ev[1] in oco:
                        self._cancel_pair(events, ev[1], OCO_OTHER_LEG)
            if stops:
                buys, sells = self._stop_heaps
                for ev in events[i:n]:
                    if ev.__class__ is not Trade:
                        continue
                    price = ev[2]
                    while buys and buys[0][0] <= price:
                        _, seq, oid = heappop(buys)
                        entry = stops.get(oid)
                        if entry is not None and entry[1] == seq:
                            del stops[oid]
                            queue.append((entry[0], price))
                            if oco and oid in oco:
                                self._cancel_pair(events, oid, OCO_OTHER_LEG)
                    while sells and -sells[0][0] >= price:
                        _, seq, oid = heappop(sells)
                        entry = stops.get(oid)
                        if entry is not None and entry[1] == seq:
                            del stops[oid]
                            queue.append((entry[0], price))
                            if oco and oid in oco:
                                self._cancel_pair(events, oid, OCO_OTHER_LEG)
            if not queue:
                return events
            i = len(events)
            st, price = queue.pop(0)
            events.append(_new(Triggered, (st.order_id, st.side, st.stop_price, price)))
            base = LIMIT if st.type is STOP_LIMIT else MARKET
            self._enter(  # type: ignore[attr-defined]
                events,
                st.order_id,
                st.owner,
                st.side,
                base,
                st.price,
                st.quantity,
                st.quote_budget,
                st.time_in_force,
                False,
                st.stp,
                st.expire_time,
            )
