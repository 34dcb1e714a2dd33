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
* An order is a small list ``[remaining, order_id, owner, level]``.  A cancel
  zeroes ``remaining`` and takes the order out of the id index; if it is not at
  either end of its deque it stays there as a dead entry that matching skips
  (lazy deletion, O(1) cancel); crowded levels are compacted.
* Events are built with ``tuple.__new__`` (same objects as calling the
  NamedTuple class, without the Python-level ``__new__`` frame).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from .events import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    DUPLICATE_ORDER_ID,
    FOK,
    FOK_UNFILLABLE,
    GTC,
    INSUFFICIENT_BUDGET,
    INVALID_ORDER,
    IOC,
    IOC_REMAINDER,
    LIMIT,
    MARKET,
    NO_LIQUIDITY,
    POST_ONLY_WOULD_TAKE,
    SELF_TRADE,
    SELL,
    UNKNOWN_ORDER,
    USER,
    Canceled,
    CancelRejected,
    Filled,
    OrderInfo,
    Rejected,
    Rested,
    RestingOrder,
    Trade,
)

_new = tuple.__new__
_type = type  # ``submit`` has a parameter called ``type``

_SIDES = {BUY: BUY, SELL: SELL}
_TYPES = {LIMIT: LIMIT, MARKET: MARKET}
_TIFS = {GTC: GTC, IOC: IOC, FOK: FOK}
_STPS = {CANCEL_TAKER: CANCEL_TAKER, CANCEL_MAKER: CANCEL_MAKER, CANCEL_BOTH: CANCEL_BOTH}

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


class OrderBook:
    """The order book of one market.  See ``docs/ENGINE.md`` for the rules."""

    __slots__ = ("_bids", "_asks", "_index", "_published")

    def __init__(self) -> None:
        self._bids = _Side(BUY)
        self._asks = _Side(SELL)
        self._index: dict[int, list] = {}  # order id -> [remaining, id, owner, level]
        # totals last reported by pop_changes, per side, by key
        self._published: tuple[dict[int, int], dict[int, int]] = ({}, {})

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
        if _type(order_id) is not int:
            return [_new(CancelRejected, (order_id, UNKNOWN_ORDER))]
        o = self._index.pop(order_id, None)
        if o is None:
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
        return [_new(Canceled, (order_id, USER, q))]

    def restore(self, order_id: int, owner: int, side: str, price: int, quantity: int) -> None:
        """Append a resting order at the back of its level without matching.

        Used to rebuild a book from orders given in priority order.  Raises
        ``ValueError`` on bad arguments, a duplicate id, or a crossing price.
        """
        if not (_is_int(order_id) and _is_int(owner) and _is_int(price) and _is_int(quantity)):
            raise ValueError("restore: order_id, owner, price and quantity must be int")
        if price <= 0 or quantity <= 0:
            raise ValueError("restore: price and quantity must be positive")
        if side == BUY:
            own, opp, key = self._bids, self._asks, price
        elif side == SELL:
            own, opp, key = self._asks, self._bids, -price
        else:
            raise ValueError(f"restore: bad side {side!r}")
        if order_id in self._index:
            raise ValueError(f"restore: duplicate order id {order_id}")
        if opp.keys and opp.keys[-1] >= -key:
            raise ValueError(f"restore: order {order_id} at {price} would cross the book")
        self._rest(order_id, owner, own, price, key, quantity)

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
    ) -> list:
        # Fast path: a plain GTC limit order with the default STP mode.
        if (
            type == "limit"
            and time_in_force == "GTC"
            and post_only is False
            and stp == "cancel_taker"
            and quote_budget is None
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
            if order_id in index:
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
                        return events
                    if self_trade:
                        append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
                        return events
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
            return events
        # Fast path: a market order by quantity with the default options.
        if (
            type == "market"
            and price is None
            and quote_budget is None
            and time_in_force == "GTC"
            and post_only is False
            and stp == "cancel_taker"
            and _type(quantity) is int
            and _type(order_id) is int
            and _type(owner) is int
            and quantity > 0
            and (side == "buy" or side == "sell")
        ):
            if order_id in self._index:
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
            return events
        return self._submit_general(
            order_id, owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp
        )

    # ---------------------------------------------------------------- internals

    def _rest(self, order_id: int, owner: int, own: _Side, price: int, key: int, quantity: int) -> None:
        lvl = own.levels.get(key)
        if lvl is None:
            lvl = own.new_level(price, key)
        o = [quantity, order_id, owner, lvl]
        lvl.append(o)
        lvl.total += quantity
        self._index[order_id] = o
        own.dirty.add(key)

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
    ) -> list:
        """Full validation and every order type; canonicalises the constants."""
        rejected = [_new(Rejected, (order_id, INVALID_ORDER))]
        if _type(order_id) is not int or _type(owner) is not int:
            return rejected
        try:
            side_c = _SIDES.get(side)  # type: ignore[call-overload]
            type_c = _TYPES.get(type_)  # type: ignore[call-overload]
            tif = _TIFS.get(time_in_force)  # type: ignore[call-overload]
            stp_c = _STPS.get(stp)  # type: ignore[call-overload]
        except TypeError:  # unhashable argument
            return rejected
        if side_c is None or type_c is None or tif is None or stp_c is None:
            return rejected
        if post_only is not True and post_only is not False:
            return rejected
        if quantity is not None and (_type(quantity) is not int or quantity <= 0):  # type: ignore[operator]
            return rejected
        if quote_budget is not None and (_type(quote_budget) is not int or quote_budget <= 0):  # type: ignore[operator]
            return rejected
        is_buy = side_c == BUY
        if type_c == LIMIT:
            if _type(price) is not int or price <= 0 or quantity is None or quote_budget is not None:  # type: ignore[operator]
                return rejected
            if post_only and tif != GTC:
                return rejected
        else:
            if price is not None or post_only or tif == FOK:
                return rejected
            if quantity is None and quote_budget is None:
                return rejected
            if quote_budget is not None and not is_buy:
                return rejected
        if order_id in self._index:
            return [_new(Rejected, (order_id, DUPLICATE_ORDER_ID))]
        if is_buy:
            own, opp = self._bids, self._asks
        else:
            own, opp = self._asks, self._bids
        events: list = []
        okeys = opp.keys
        if type_c == LIMIT:
            sign = own.sign
            key = sign * price  # type: ignore[operator]
            crosses = bool(okeys) and okeys[-1] >= -key
            if post_only:
                if crosses:
                    return [_new(Rejected, (order_id, POST_ONLY_WOULD_TAKE))]
                self._rest(order_id, owner, own, price, key, quantity)  # type: ignore[arg-type]
                return [_new(Rested, (order_id, side_c, price, quantity))]
            if tif == FOK and not self._fok_fillable(opp, -key, quantity, owner, stp_c):  # type: ignore[arg-type]
                return [_new(Canceled, (order_id, FOK_UNFILLABLE, quantity))]
            stop = 0
            if crosses:
                quantity, stop = self._match(events, order_id, owner, side_c, opp, -key, quantity, stp_c)  # type: ignore[arg-type]
            if quantity == 0:
                events.append(_new(Filled, (order_id,)))
            elif stop:
                events.append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
            elif tif == GTC:
                self._rest(order_id, owner, own, price, key, quantity)  # type: ignore[arg-type]
                events.append(_new(Rested, (order_id, side_c, price, quantity)))
            else:  # IOC (FOK was checked to fill completely)
                events.append(_new(Canceled, (order_id, IOC_REMAINDER, quantity)))
            return events
        # market order
        if not okeys:
            return [_new(Canceled, (order_id, NO_LIQUIDITY, 0 if quantity is None else quantity))]
        if quote_budget is None:
            # every key is >= okeys[0], so that is "no limit"
            quantity, stop = self._match(events, order_id, owner, side_c, opp, okeys[0], quantity, stp_c)  # type: ignore[arg-type]
            if quantity == 0:
                events.append(_new(Filled, (order_id,)))
            elif stop:
                events.append(_new(Canceled, (order_id, SELF_TRADE, quantity)))
            else:
                events.append(_new(Canceled, (order_id, NO_LIQUIDITY, quantity)))
            return events
        left, stop, traded = self._match_budget(events, order_id, owner, opp, quantity, quote_budget, stp_c)  # type: ignore[arg-type]
        if quantity is None:
            # budget only: ``remaining`` is reported as 0
            if stop == 1:
                events.append(_new(Canceled, (order_id, SELF_TRADE, 0)))
            elif stop == 2:
                if traded:
                    events.append(_new(Filled, (order_id,)))
                else:
                    events.append(_new(Canceled, (order_id, INSUFFICIENT_BUDGET, 0)))
            else:
                events.append(_new(Canceled, (order_id, NO_LIQUIDITY, 0)))
        elif left == 0:
            events.append(_new(Filled, (order_id,)))
        elif stop == 1:
            events.append(_new(Canceled, (order_id, SELF_TRADE, left)))
        elif stop == 2:
            events.append(_new(Canceled, (order_id, INSUFFICIENT_BUDGET, left)))
        else:
            events.append(_new(Canceled, (order_id, NO_LIQUIDITY, left)))
        return events

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
