"""A single-market limit order book with strict price-time priority.

Data layout (chosen for speed in CPython, see ``docs/ENGINE.md``):

* Each side keeps a dict ``key -> _Level`` and a plain list of the keys sorted
  ascending, so the best level is always ``keys[-1]`` and removing it is
  ``keys.pop()``.  The key of a bid is its price and the key of an ask is minus
  its price, so "better" means "larger key" on both sides and one matching
  routine serves both.  New levels are placed with ``bisect.insort`` (a C
  binary search plus a short memmove, since new prices are near the top).
* A level is a ``deque`` of orders (time priority) with a running total of the
  live quantity.  Levels whose total reaches zero are removed at once, so every
  level in the dict has at least one live order.
* An order is a small list ``[remaining, order_id, owner, level]`` (plus
  ``(tif, post_only, stp, expire_time)`` for an order that is not a plain
  GTC / cancel_taker one, so an amend can re-enter it by its own rules).  A cancel
  zeroes ``remaining`` and takes the order out of the id index; if it is not at
  either end of its deque it stays there as a dead entry that matching skips
  (lazy deletion, O(1) cancel); crowded levels are compacted.
* Events are built with ``tuple.__new__`` (same objects as calling the
  NamedTuple class, without the Python-level ``__new__`` frame).
* Stops, OCO pairs, amend, GTD expiry and the rebuild API live in the
  ``Lifecycle`` mixin (``lifecycle.py``); the hot paths here only record the
  last trade price and, when a stop waits, hand their events to ``_after``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from heapq import heappush

from .events import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    DUPLICATE_ORDER_ID,
    EXPIRED,
    FOK,
    FOK_UNFILLABLE,
    GTC,
    GTD,
    INSUFFICIENT_BUDGET,
    INVALID_ORDER,
    IOC_REMAINDER,
    LIMIT,
    NO_LIQUIDITY,
    POST_ONLY_WOULD_TAKE,
    SELF_TRADE,
    SELL,
    STOP_WOULD_TRIGGER,
    UNKNOWN_ORDER,
    USER,
    Canceled,
    CancelRejected,
    Filled,
    OrderInfo,
    OrderState,
    Rejected,
    Rested,
    RestingOrder,
    Trade,
    Triggered,
)
from .lifecycle import Lifecycle
from .validate import _STPS, _TIFS, _normalize

_new = tuple.__new__
_type = type  # ``submit`` has a parameter called ``type``

# A level is compacted when it holds more than this many dead entries and they
# are more than half of the deque.
_COMPACT_MIN_DEAD = 32


# Emptied levels kept per side for reuse (a busy thin book creates and drops
# levels all the time); beyond this many they are left to the allocator.
_FREE_LEVELS = 64


class _Level(deque):
    """Orders at one price, oldest first, plus bookkeeping."""

    __slots__ = ("total", "price", "key", "side", "dead")

    def __init__(self, side: _Side) -> None:
        self.total = 0  # live quantity
        self.price = 0
        self.key = 0
        self.side = side
        self.dead = 0  # canceled entries still in the deque


class _Side:
    """One side of the book."""

    __slots__ = ("name", "keys", "levels", "dirty", "sign", "free")

    def __init__(self, name: str) -> None:
        self.name = name
        self.sign = 1 if name == BUY else -1  # key = sign * price
        self.keys: list[int] = []  # ascending; best level is keys[-1]
        self.levels: dict[int, _Level] = {}
        self.dirty: set[int] = set()  # keys changed since the last pop_changes
        self.free: list[_Level] = []  # emptied levels for reuse

    def new_level(self, price: int, key: int) -> _Level:
        free = self.free
        lvl = free.pop() if free else _Level(self)
        lvl.price = price
        lvl.key = key
        self.levels[key] = lvl
        keys = self.keys
        if not keys or key > keys[-1]:
            keys.append(key)
        else:
            insort(keys, key)
        return lvl

    def remove_level(self, lvl: _Level) -> None:
        """Drop an empty level (total 0), wherever it is."""
        key = lvl.key
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]
        del self.levels[key]
        self.release(lvl)

    def release(self, lvl: _Level) -> None:
        """Recycle a level already taken out of ``keys`` and ``levels``."""
        if lvl:
            lvl.clear()  # dead entries only (they point back at the level)
        lvl.total = 0
        lvl.dead = 0
        if len(self.free) < _FREE_LEVELS:
            self.free.append(lvl)


def _is_int(value: object) -> bool:
    return _type(value) is int


class OrderBook(Lifecycle):
    """The order book of one market.  See ``docs/ENGINE.md`` for the rules."""

    __slots__ = (
        "_bids",
        "_asks",
        "_index",
        "_published",
        "_last",
        "_now",
        "_stops",
        "_stop_heaps",
        "_stop_seq",
        "_oco",
        "_expiry",
        "_expiry_limit",
    )

    def __init__(self) -> None:
        self._bids = _Side(BUY)
        self._asks = _Side(SELL)
        # order id -> [remaining, id, owner, level] (+ [attrs] when not a default GTC order)
        self._index: dict[int, list] = {}
        # totals last reported by pop_changes, per side, by key
        self._published: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._last: int | None = None  # last trade price
        self._now: int | None = None  # the latest time given to ``expire``
        self._stops: dict = {}  # waiting stop id -> (StopState, arrival seq)
        self._stop_heaps: tuple[list, list] = ([], [])  # buy: (stop, seq, id); sell: (-stop, seq, id)
        self._stop_seq = 0
        self._oco: dict[int, int] = {}  # leg id -> other leg id, both ways
        self._expiry: list[tuple[int, int]] = []  # heap of (expire_time, order id), lazily cleaned
        self._expiry_limit = 64

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, order_id: object) -> bool:
        return _type(order_id) is int and order_id in self._index

    def best_bid(self) -> int | None:
        keys = self._bids.keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self._asks.keys
        return -keys[-1] if keys else None

    def depth(self, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``limit`` levels per side, best first, as ``(price, total qty)``."""
        if _type(limit) is not int or limit <= 0:
            return [], []
        out = []
        for side in (self._bids, self._asks):
            levels = side.levels
            keys = side.keys
            top = keys[-1 : -limit - 1 : -1]
            out.append([(levels[k].price, levels[k].total) for k in top])
        return out[0], out[1]

    def get(self, order_id: int) -> OrderInfo | None:
        if _type(order_id) is not int:
            return None
        o = self._index.get(order_id)
        if o is None:
            return None
        lvl = o[3]
        return OrderInfo(o[2], lvl.side.name, lvl.price, o[0])

    def orders(self) -> list[RestingOrder]:
        """Resting orders: all bids then all asks, each side in priority order.

        A snapshot (a new list), so the book may change while it is used; feeding
        it to ``restore`` on an empty book rebuilds this book exactly.
        """
        out = []
        append = out.append
        for side in (self._bids, self._asks):
            name = side.name
            levels = side.levels
            for k in reversed(side.keys):
                lvl = levels[k]
                price = lvl.price
                for o in lvl:
                    if o[0]:
                        append(RestingOrder(o[1], o[2], name, price, o[0]))
        return out

    def pop_changes(self) -> tuple[dict[int, int], dict[int, int]]:
        """Levels whose total changed since the last call: ``{price: total}``, 0 = gone."""
        out = []
        for side, published in zip((self._bids, self._asks), self._published, strict=True):
            changes: dict[int, int] = {}
            levels = side.levels
            sign = side.sign
            for k in side.dirty:
                lvl = levels.get(k)
                total = lvl.total if lvl is not None else 0
                if published.get(k, 0) != total:
                    changes[sign * k] = total
                    if total:
                        published[k] = total
                    else:
                        del published[k]
            side.dirty.clear()
            out.append(changes)
        return out[0], out[1]

    # ----------------------------------------------------------------- commands

    def cancel(self, order_id: int) -> list:
        """Take an order out of the book, or a waiting stop out of its queue (and its OCO pair)."""
        if _type(order_id) is not int:
            return [_new(CancelRejected, (order_id, UNKNOWN_ORDER))]
        o = self._index.pop(order_id, None)
        if o is None:
            if self._stops and order_id in self._stops:
                return self._cancel_stop(order_id)
            return [_new(CancelRejected, (order_id, UNKNOWN_ORDER))]
        q = o[0]
        o[0] = 0
        lvl = o[3]
        side = lvl.side
        side.dirty.add(lvl.key)
        total = lvl.total - q
        if total == 0:
            side.remove_level(lvl)
        else:
            lvl.total = total
            if lvl[0] is o:
                lvl.popleft()
                if lvl.dead:
                    while lvl[0][0] == 0:
                        lvl.popleft()
                        lvl.dead -= 1
            elif lvl[-1] is o:
                lvl.pop()
            else:
                dead = lvl.dead + 1
                if dead > _COMPACT_MIN_DEAD and dead * 2 > len(lvl):
                    live = [x for x in lvl if x[0]]
                    lvl.clear()
                    lvl.extend(live)
                    dead = 0
                lvl.dead = dead
        if self._oco and order_id in self._oco:
            return self._cancel_pair([_new(Canceled, (order_id, USER, q))], order_id, USER)
        return [_new(Canceled, (order_id, USER, q))]

    def restore(
        self,
        order_id: int,
        owner: int,
        side: str,
        price: int,
        quantity: int,
        time_in_force: str = GTC,
        post_only: bool = False,
        stp: str = CANCEL_TAKER,
        expire_time: int | None = None,
    ) -> None:
        """Append a resting order at the back of its level without matching.

        Used to rebuild a book from orders given in priority order.  Raises
        ``ValueError`` on bad arguments, a duplicate id, or a crossing price.
        """
        if not (_is_int(order_id) and _is_int(owner) and _is_int(price) and _is_int(quantity)):
            raise ValueError("restore: order_id, owner, price and quantity must be int")
        if price <= 0 or quantity <= 0:
            raise ValueError("restore: price and quantity must be positive")
        if time_in_force not in (GTC, GTD) or (time_in_force == GTD) != _is_int(expire_time):
            raise ValueError("restore: time_in_force GTC, or GTD with an int expire_time")
        if post_only is not True and post_only is not False or stp not in _STPS:
            raise ValueError("restore: bad post_only or stp")
        if side == BUY:
            own, opp, key = self._bids, self._asks, price
        elif side == SELL:
            own, opp, key = self._asks, self._bids, -price
        else:
            raise ValueError(f"restore: bad side {side!r}")
        if order_id in self._index or order_id in self._stops:
            raise ValueError(f"restore: duplicate order id {order_id}")
        if opp.keys and opp.keys[-1] >= -key:
            raise ValueError(f"restore: order {order_id} at {price} would cross the book")
        tif = _TIFS[time_in_force]
        stp_c = _STPS[stp]
        attrs = None if tif is GTC and not post_only and stp_c is CANCEL_TAKER else (tif, post_only, stp_c, expire_time)
        self._rest(order_id, owner, own, price, key, quantity, attrs)

    def submit(
        self,
        order_id: int,
        owner: int,
        side: str,
        type: str = LIMIT,  # name fixed by the interface
        price: int | None = None,
        quantity: int | None = None,
        quote_budget: int | None = None,
        time_in_force: str = GTC,
        post_only: bool = False,
        stp: str = CANCEL_TAKER,
        stop_price: int | None = None,
        trigger_immediately: bool = False,
        expire_time: int | None = None,
    ) -> list:
        # Fast path: a plain GTC limit order with the default STP mode.
        if (
            type == "limit"
            and time_in_force == "GTC"
            and post_only is False
            and stp == "cancel_taker"
            and quote_budget is None
            and stop_price is None
            and expire_time is None
            and _type(price) is int
            and _type(quantity) is int
            and _type(order_id) is int
            and _type(owner) is int
            and price > 0
            and quantity > 0
        ):
            if side == "buy":
                own = self._bids
                opp = self._asks
                key = price
                side = BUY
            elif side == "sell":
                own = self._asks
                opp = self._bids
                key = -price
                side = SELL
            else:
                return [_new(Rejected, (order_id, INVALID_ORDER))]
            index = self._index
            stops = self._stops
            if order_id in index or (stops and order_id in stops):
                return [_new(Rejected, (order_id, DUPLICATE_ORDER_ID))]
            events: list = []
            okeys = opp.keys
            if okeys and okeys[-1] >= -key:
                # Crossing: the loop of ``_match`` specialised for cancel_taker.
                lim = -key
                olevels = opp.levels
                append = events.append
                while True:
                    k = okeys[-1]
                    lvl = olevels[k]
                    lprice = lvl.price
                    total = lvl.total
                    done = 0
                    self_trade = False
                    while True:
                        m = lvl[0]
                        mq = m[0]
                        if mq == 0:  # canceled entry
                            lvl.popleft()
                            lvl.dead -= 1
                            continue
                        mo = m[2]
                        if mo == owner:
                            self_trade = True
                            break
                        mid = m[1]
                        if mq <= quantity:
                            lvl.popleft()
                            del index[mid]
                            append(_new(Trade, (mid, order_id, lprice, mq, side, mo, owner)))
                            append(_new(Filled, (mid,)))
                            quantity -= mq
                            done += mq
                            if quantity == 0 or done == total:
                                break
                        else:
                            m[0] = mq - quantity
                            append(_new(Trade, (mid, order_id, lprice, quantity, side, mo, owner)))
                            done += quantity
                            quantity = 0
                            break
                    if done:
                        self._last = lprice
                        opp.dirty.add(k)
                        if done == total:
                            okeys.pop()
                            del olevels[k]
                            # recycle the level (inlined ``_Side.release``)
                            if lvl:
                                lvl.clear()
                            lvl.total = 0
                            lvl.dead = 0
                            free = opp.free
                            if len(free) < _FREE_LEVELS:
                                free.append(lvl)
                        else:
                            lvl.total = total - done
                    if quantity == 0:
                        append(_new(Filled, (order_id,)))
                        return self._after(events, 0) if stops else events
                    if self_trade:
                        append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
                        return self._after(events, 0) if stops else events
                    if not okeys or okeys[-1] < lim:
                        break
            # Rest the order (inlined ``_rest`` and ``_Side.new_level``).
            levels = own.levels
            lvl = levels.get(key)
            if lvl is None:
                free = own.free
                lvl = free.pop() if free else _Level(own)
                lvl.price = price
                lvl.key = key
                levels[key] = lvl
                keys = own.keys
                if not keys or key > keys[-1]:
                    keys.append(key)
                else:
                    insort(keys, key)
            o = [quantity, order_id, owner, lvl]
            lvl.append(o)
            lvl.total += quantity
            index[order_id] = o
            own.dirty.add(key)
            events.append(_new(Rested, (order_id, side, price, quantity)))
            return self._after(events, 0) if stops and len(events) > 1 else events
        # Fast path: a market order by quantity with the default options.
        if (
            type == "market"
            and price is None
            and quote_budget is None
            and time_in_force == "GTC"
            and post_only is False
            and stp == "cancel_taker"
            and stop_price is None
            and expire_time is None
            and _type(quantity) is int
            and _type(order_id) is int
            and _type(owner) is int
            and quantity > 0
            and (side == "buy" or side == "sell")
        ):
            stops = self._stops
            if order_id in self._index or (stops and order_id in stops):
                return [_new(Rejected, (order_id, DUPLICATE_ORDER_ID))]
            if side == "buy":
                opp = self._asks
                side = BUY
            else:
                opp = self._bids
                side = SELL
            okeys = opp.keys
            if not okeys:
                return [_new(Canceled, (order_id, NO_LIQUIDITY, quantity))]
            events = []
            quantity, stop = self._match(events, order_id, owner, side, opp, okeys[0], quantity, CANCEL_TAKER)
            if quantity == 0:
                events.append(_new(Filled, (order_id,)))
            elif stop:
                events.append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
            else:
                events.append(_new(Canceled, (order_id, NO_LIQUIDITY, quantity)))
            return self._after(events, 0) if stops else events
        return self._submit_general(
            order_id,
            owner,
            side,
            type,
            price,
            quantity,
            quote_budget,
            time_in_force,
            post_only,
            stp,
            stop_price,
            trigger_immediately,
            expire_time,
        )

    # ---------------------------------------------------------------- internals

    def _rest(
        self, order_id: int, owner: int, own: _Side, price: int, key: int, quantity: int, attrs: tuple | None = None
    ) -> None:
        """Rest at the back of the level; ``attrs`` = (tif, post_only, stp, expire_time) unless all default."""
        lvl = own.levels.get(key)
        if lvl is None:
            lvl = own.new_level(price, key)
        if attrs is None:
            o = [quantity, order_id, owner, lvl]
        else:
            o = [quantity, order_id, owner, lvl, attrs]
            if attrs[3] is not None:
                self._expire_at(attrs[3], order_id)
        lvl.append(o)
        lvl.total += quantity
        self._index[order_id] = o
        own.dirty.add(key)

    def _expire_at(self, when: int, order_id: int) -> None:
        heap = self._expiry
        heappush(heap, (when, order_id))
        if len(heap) > self._expiry_limit:
            self._compact_expiry()

    def _unlink(self, o: list) -> int:
        """Take a resting order (already out of the index) off its level; its remaining lots."""
        q = o[0]
        o[0] = 0
        lvl = o[3]
        side = lvl.side
        side.dirty.add(lvl.key)
        total = lvl.total - q
        if total == 0:
            side.remove_level(lvl)
        else:
            lvl.total = total
            if lvl[0] is o:
                lvl.popleft()
                if lvl.dead:
                    while lvl[0][0] == 0:
                        lvl.popleft()
                        lvl.dead -= 1
            elif lvl[-1] is o:
                lvl.pop()
            else:
                lvl.dead += 1
                if lvl.dead > _COMPACT_MIN_DEAD and lvl.dead * 2 > len(lvl):
                    live = [x for x in lvl if x[0]]
                    lvl.clear()
                    lvl.extend(live)
                    lvl.dead = 0
        return q

    def _state_of(self, o: list) -> OrderState:
        lvl = o[3]
        if len(o) > 4:
            tif, post_only, stp, expire = o[4]
            return OrderState(o[1], o[2], lvl.side.name, lvl.price, o[0], tif, post_only, stp, expire)
        return OrderState(o[1], o[2], lvl.side.name, lvl.price, o[0])

    def _submit_general(
        self,
        order_id: object,
        owner: object,
        side: object,
        type_: object,
        price: object,
        quantity: object,
        quote_budget: object,
        time_in_force: object,
        post_only: object,
        stp: object,
        stop_price: object = None,
        trigger_immediately: object = False,
        expire_time: object = None,
    ) -> list:
        """Full validation and every order type; canonicalises the constants."""
        if _type(order_id) is not int or _type(owner) is not int:
            return [_new(Rejected, (order_id, INVALID_ORDER))]
        norm = _normalize(
            side,
            type_,
            price,
            quantity,
            quote_budget,
            time_in_force,
            post_only,
            stp,
            stop_price,
            trigger_immediately,
            expire_time,
        )
        if norm is None:
            return [_new(Rejected, (order_id, INVALID_ORDER))]
        side_c, type_c, base, tif, stp_c = norm
        if order_id in self._index or order_id in self._stops:
            return [_new(Rejected, (order_id, DUPLICATE_ORDER_ID))]
        now = self._now
        if tif is GTD and now is not None and expire_time <= now:  # type: ignore[operator]
            return [_new(Canceled, (order_id, EXPIRED, 0 if quantity is None else quantity))]
        events: list = []
        if base is not type_c:  # a stop order
            last = self._last
            if last is not None and (last >= stop_price if side_c is BUY else last <= stop_price):  # type: ignore[operator]
                if not trigger_immediately:
                    return [_new(Rejected, (order_id, STOP_WOULD_TRIGGER))]
                events.append(_new(Triggered, (order_id, side_c, stop_price, last)))
            else:
                return [
                    self._add_stop(
                        order_id,
                        owner,
                        side_c,
                        type_c,
                        stop_price,  # type: ignore[arg-type]
                        price,  # type: ignore[arg-type]
                        quantity,  # type: ignore[arg-type]
                        quote_budget,  # type: ignore[arg-type]
                        tif,
                        stp_c,
                        expire_time,  # type: ignore[arg-type]
                    )
                ]
        self._enter(
            events, order_id, owner, side_c, base, price, quantity, quote_budget, tif, post_only, stp_c, expire_time
        )  # type: ignore[arg-type]
        if self._stops and len(events) > 1:
            self._after(events, 0)
        return events

    def _enter(
        self,
        events: list,
        order_id: int,
        owner: int,
        side_c: str,
        type_c: str,
        price: int | None,
        quantity: int | None,
        quote_budget: int | None,
        tif: str,
        post_only: bool,
        stp_c: str,
        expire_time: int | None,
    ) -> None:
        """A valid limit or market order meets the book; its events are appended to ``events``."""
        append = events.append
        if side_c is BUY:
            own, opp = self._bids, self._asks
        else:
            own, opp = self._asks, self._bids
        okeys = opp.keys
        if type_c == LIMIT:
            attrs = (
                None if tif is GTC and not post_only and stp_c is CANCEL_TAKER else (tif, post_only, stp_c, expire_time)
            )
            key = own.sign * price  # type: ignore[operator]
            crosses = bool(okeys) and okeys[-1] >= -key
            if post_only:
                if crosses:
                    append(_new(Rejected, (order_id, POST_ONLY_WOULD_TAKE)))
                    return
                self._rest(order_id, owner, own, price, key, quantity, attrs)  # type: ignore[arg-type]
                append(_new(Rested, (order_id, side_c, price, quantity)))
                return
            if tif == FOK and not self._fok_fillable(opp, -key, quantity, owner, stp_c):  # type: ignore[arg-type]
                append(_new(Canceled, (order_id, FOK_UNFILLABLE, quantity)))
                return
            stop = 0
            if crosses:
                quantity, stop = self._match(events, order_id, owner, side_c, opp, -key, quantity, stp_c)  # type: ignore[arg-type]
            if quantity == 0:
                append(_new(Filled, (order_id,)))
            elif stop:
                append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
            elif tif == GTC or tif == GTD:
                self._rest(order_id, owner, own, price, key, quantity, attrs)  # type: ignore[arg-type]
                append(_new(Rested, (order_id, side_c, price, quantity)))
            else:  # IOC (FOK was checked to fill completely)
                append(_new(Canceled, (order_id, IOC_REMAINDER, quantity)))
            return
        # market order
        if not okeys:
            append(_new(Canceled, (order_id, NO_LIQUIDITY, 0 if quantity is None else quantity)))
            return
        if quote_budget is None:
            # every key is >= okeys[0], so that is "no limit"
            quantity, stop = self._match(events, order_id, owner, side_c, opp, okeys[0], quantity, stp_c)  # type: ignore[arg-type]
            if quantity == 0:
                append(_new(Filled, (order_id,)))
            elif stop:
                append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
            else:
                append(_new(Canceled, (order_id, NO_LIQUIDITY, quantity)))
            return
        left, stop, traded = self._match_budget(events, order_id, owner, opp, quantity, quote_budget, stp_c)
        if quantity is None:
            # budget only: ``remaining`` is reported as 0
            if stop == 1:
                append(_new(Canceled, (order_id, SELF_TRADE, 0)))
            elif stop == 2:
                if traded:
                    append(_new(Filled, (order_id,)))
                else:
                    append(_new(Canceled, (order_id, INSUFFICIENT_BUDGET, 0)))
            else:
                append(_new(Canceled, (order_id, NO_LIQUIDITY, 0)))
        elif left == 0:
            append(_new(Filled, (order_id,)))
        elif stop == 1:
            append(_new(Canceled, (order_id, SELF_TRADE, left)))
        elif stop == 2:
            append(_new(Canceled, (order_id, INSUFFICIENT_BUDGET, left)))
        else:
            append(_new(Canceled, (order_id, NO_LIQUIDITY, left)))

    def _fok_fillable(self, opp: _Side, lim: int, quantity: int, owner: int, stp: str) -> bool:
        """Could ``quantity`` be filled right now against ``opp`` up to key ``lim``?

        A same-owner maker met before the quantity is covered makes the order
        unfillable under cancel_taker / cancel_both; under cancel_maker it is
        skipped (matching would cancel it) and does not count.
        """
        levels = opp.levels
        avail = 0
        for k in reversed(opp.keys):
            if k < lim:
                break
            for m in levels[k]:
                mq = m[0]
                if mq == 0:
                    continue
                if m[2] == owner:
                    if stp is CANCEL_MAKER:
                        continue
                    return False
                avail += mq
                if avail >= quantity:
                    return True
        return False

    def _match(
        self, events: list, oid: int, owner: int, side: str, opp: _Side, lim: int, qty: int, stp: str
    ) -> tuple[int, int]:
        """Take up to ``qty`` lots from ``opp`` at keys >= ``lim``.

        Returns ``(lots left, stop)``; ``stop`` is 1 when self-trade prevention
        cancels the taker, else 0.
        """
        okeys = opp.keys
        olevels = opp.levels
        odirty = opp.dirty
        index = self._index
        append = events.append
        stop = 0
        while okeys:
            k = okeys[-1]
            if k < lim:
                break
            lvl = olevels[k]
            price = lvl.price
            total = lvl.total
            done = 0  # lots taken out of this level (fills and STP cancels)
            cancels = 0  # of which STP cancels
            while True:
                m = lvl[0]
                mq = m[0]
                if mq == 0:  # canceled entry
                    lvl.popleft()
                    lvl.dead -= 1
                    continue
                if m[2] == owner:
                    if stp is CANCEL_TAKER:
                        stop = 1
                        break
                    lvl.popleft()
                    m[0] = 0
                    del index[m[1]]
                    done += mq
                    cancels += mq
                    append(_new(Canceled, (m[1], SELF_TRADE, mq)))
                    if stp is CANCEL_BOTH:
                        stop = 1
                        break
                    if done == total:
                        break
                    continue
                if mq <= qty:
                    lvl.popleft()
                    mid = m[1]
                    del index[mid]
                    append(_new(Trade, (mid, oid, price, mq, side, m[2], owner)))
                    append(_new(Filled, (mid,)))
                    qty -= mq
                    done += mq
                    if qty == 0 or done == total:
                        break
                else:
                    m[0] = mq - qty
                    append(_new(Trade, (m[1], oid, price, qty, side, m[2], owner)))
                    done += qty
                    qty = 0
                    break
            if done:
                if done != cancels:
                    self._last = price
                odirty.add(k)
                if done == total:
                    okeys.pop()
                    del olevels[k]
                    opp.release(lvl)
                else:
                    lvl.total = total - done
            if stop or qty == 0:
                break
        return qty, stop

    def _match_budget(
        self, events: list, oid: int, owner: int, opp: _Side, qty: int | None, budget: int, stp: str
    ) -> tuple[int | None, int, int]:
        """Market buy limited by a quote budget (and optionally a quantity).

        Returns ``(lots left or None, stop, lots traded)``; ``stop`` is 1 for a
        self-trade cancel of the taker, 2 when the budget cannot buy one more
        lot at the next maker's price, 0 otherwise.
        """
        okeys = opp.keys
        olevels = opp.levels
        odirty = opp.dirty
        index = self._index
        append = events.append
        stop = 0
        traded = 0
        while okeys:
            k = okeys[-1]
            lvl = olevels[k]
            price = lvl.price
            total = lvl.total
            done = 0
            cancels = 0
            while True:
                m = lvl[0]
                mq = m[0]
                if mq == 0:
                    lvl.popleft()
                    lvl.dead -= 1
                    continue
                if budget < price:  # cannot buy one more lot here (or further on)
                    stop = 2
                    break
                if m[2] == owner:
                    if stp is CANCEL_TAKER:
                        stop = 1
                        break
                    lvl.popleft()
                    m[0] = 0
                    del index[m[1]]
                    done += mq
                    cancels += mq
                    append(_new(Canceled, (m[1], SELF_TRADE, mq)))
                    if stp is CANCEL_BOTH:
                        stop = 1
                        break
                    if done == total:
                        break
                    continue
                n = budget // price
                if qty is not None and qty < n:
                    n = qty
                if mq <= n:
                    n = mq
                    lvl.popleft()
                    del index[m[1]]
                    append(_new(Trade, (m[1], oid, price, n, BUY, m[2], owner)))
                    append(_new(Filled, (m[1],)))
                else:
                    m[0] = mq - n
                    append(_new(Trade, (m[1], oid, price, n, BUY, m[2], owner)))
                budget -= n * price
                traded += n
                done += n
                if qty is not None:
                    qty -= n
                    if qty == 0:
                        break
                if done == total:
                    break
            if done:
                if done != cancels:
                    self._last = price
                odirty.add(k)
                if done == total:
                    okeys.pop()
                    del olevels[k]
                    opp.release(lvl)
                else:
                    lvl.total = total - done
            if stop or qty == 0:
                break
        return qty, stop, traded
