"""A deliberately naive reference model of the order book.

Resting orders live in one plain list, waiting stops in another and OCO pairs in
a third; every question about priority is answered by sorting or scanning those
lists from scratch.  No indexes, no heaps, no lazy deletion, no cleverness: it is
slow and obviously follows the rules written in docs/ENGINE.md, which is what
the differential tests compare the engine with.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.engine import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    Amended,
    AmendRejected,
    Canceled,
    CancelRejected,
    Filled,
    Rejected,
    Rested,
    StopRested,
    Trade,
    Triggered,
)


@dataclass
class RefOrder:
    order_id: int
    owner: int
    side: str
    price: int
    qty: int
    seq: int
    tif: str = GTC
    post_only: bool = False
    stp: str = CANCEL_TAKER
    expire: int | None = None


@dataclass
class RefStop:
    order_id: int
    owner: int
    side: str
    type: str
    stop_price: int
    price: int | None
    qty: int | None
    budget: int | None
    tif: str
    stp: str
    expire: int | None
    seq: int


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _one_of(x: object, allowed: tuple) -> bool:
    return isinstance(x, str) and x in allowed


class RefBook:
    def __init__(self) -> None:
        self.resting: list[RefOrder] = []
        self.stops: list[RefStop] = []
        self.pairs: list[tuple[int, int]] = []  # (limit leg, stop leg)
        self.seq = 0
        self.last: int | None = None
        self.now: int | None = None

    # ---------------------------------------------------------------- helpers

    def bids(self) -> list[RefOrder]:
        return sorted((o for o in self.resting if o.side == BUY), key=lambda o: (-o.price, o.seq))

    def asks(self) -> list[RefOrder]:
        return sorted((o for o in self.resting if o.side == SELL), key=lambda o: (o.price, o.seq))

    def find(self, order_id: int) -> RefOrder | None:
        for o in self.resting:
            if o.order_id == order_id:
                return o
        return None

    def find_stop(self, order_id: int) -> RefStop | None:
        for s in self.stops:
            if s.order_id == order_id:
                return s
        return None

    def rest(self, order_id, owner, side, price, qty, tif=GTC, post_only=False, stp=CANCEL_TAKER, expire=None) -> None:
        self.seq += 1
        self.resting.append(RefOrder(order_id, owner, side, price, qty, self.seq, tif, post_only, stp, expire))

    def best_bid(self) -> int | None:
        b = self.bids()
        return b[0].price if b else None

    def best_ask(self) -> int | None:
        a = self.asks()
        return a[0].price if a else None

    def depth_all(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        out = []
        for orders in (self.bids(), self.asks()):
            levels: list[tuple[int, int]] = []
            for o in orders:
                if levels and levels[-1][0] == o.price:
                    levels[-1] = (o.price, levels[-1][1] + o.qty)
                else:
                    levels.append((o.price, o.qty))
            out.append(levels)
        return out[0], out[1]

    def snapshot(self) -> list[tuple]:
        return [
            (o.order_id, o.owner, o.side, o.price, o.qty, o.tif, o.post_only, o.stp, o.expire)
            for o in self.bids() + self.asks()
        ]

    def stop_snapshot(self) -> list[tuple]:
        return [
            (s.order_id, s.owner, s.side, s.type, s.stop_price, s.price, s.qty, s.budget, s.tif, s.stp, s.expire)
            for s in sorted(self.stops, key=lambda s: s.seq)
        ]

    def pair_of(self, order_id: int) -> tuple[int, int] | None:
        for pair in self.pairs:
            if order_id in pair:
                return pair
        return None

    def take(self, order_id: int) -> int:
        """Remove a resting order or a waiting stop; what was left of it."""
        o = self.find(order_id)
        if o is not None:
            self.resting.remove(o)
            return o.qty
        s = self.find_stop(order_id)
        self.stops.remove(s)
        return s.qty or 0

    def drop_pair_of(self, order_id: int, reason: str) -> list:
        pair = self.pair_of(order_id)
        if pair is None:
            return []
        self.pairs.remove(pair)
        other = pair[1] if pair[0] == order_id else pair[0]
        return [Canceled(other, reason, self.take(other))]

    def would_trigger(self, side: str, stop_price: int) -> bool:
        if self.last is None:
            return False
        return self.last >= stop_price if side == BUY else self.last <= stop_price

    # --------------------------------------------------------------- commands

    def cancel(self, order_id: object) -> list:
        if not _is_int(order_id) or (self.find(order_id) is None and self.find_stop(order_id) is None):
            return [CancelRejected(order_id, "unknown_order")]
        events = [Canceled(order_id, "user", self.take(order_id))]
        return events + self.drop_pair_of(order_id, "user")

    def expire(self, now: object) -> list:
        if not _is_int(now):
            return []
        if self.now is not None and now < self.now:
            now = self.now
        self.now = now
        due = [(o.expire, o.order_id) for o in self.resting if o.expire is not None and o.expire <= now]
        due += [(s.expire, s.order_id) for s in self.stops if s.expire is not None and s.expire <= now]
        events: list = []
        for _, oid in sorted(due):
            if self.find(oid) is None and self.find_stop(oid) is None:
                continue  # went with its OCO pair
            events.append(Canceled(oid, "expired", self.take(oid)))
            events += self.drop_pair_of(oid, "expired")
        return events

    def _valid(self, owner, side, type_, price, quantity, budget, tif, post_only, stp, stop, trig, expire) -> bool:
        if not _is_int(owner):
            return False
        if not (_one_of(side, (BUY, SELL)) and _one_of(type_, (LIMIT, MARKET, STOP_LIMIT, STOP_MARKET))):
            return False
        if not (_one_of(tif, (GTC, IOC, FOK, GTD)) and _one_of(stp, (CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH))):
            return False
        if post_only is not True and post_only is not False:
            return False
        if quantity is not None and not (_is_int(quantity) and quantity > 0):
            return False
        if budget is not None and not (_is_int(budget) and budget > 0):
            return False
        if not _is_int(expire) if tif == GTD else expire is not None:
            return False
        if type_ in (STOP_LIMIT, STOP_MARKET):
            if not (_is_int(stop) and stop > 0) or post_only or (trig is not True and trig is not False):
                return False
        elif stop is not None:
            return False
        if type_ in (LIMIT, STOP_LIMIT):
            if not (_is_int(price) and price > 0) or quantity is None or budget is not None:
                return False
            return not (post_only and tif not in (GTC, GTD))
        # market
        if price is not None or post_only or tif == FOK or (tif == GTD and type_ == MARKET):
            return False
        if quantity is None and budget is None:
            return False
        return not (budget is not None and side != BUY)

    def submit(
        self,
        order_id,
        owner,
        side,
        type=LIMIT,
        price=None,
        quantity=None,
        quote_budget=None,
        time_in_force=GTC,
        post_only=False,
        stp=CANCEL_TAKER,
        stop_price=None,
        trigger_immediately=False,
        expire_time=None,
    ) -> list:
        args = (owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp)
        if not _is_int(order_id) or not self._valid(*args, stop_price, trigger_immediately, expire_time):
            return [Rejected(order_id, "invalid_order")]
        if self.find(order_id) is not None or self.find_stop(order_id) is not None:
            return [Rejected(order_id, "duplicate_order_id")]
        if time_in_force == GTD and self.now is not None and expire_time <= self.now:
            return [Canceled(order_id, "expired", quantity or 0)]
        events: list = []
        if type in (STOP_LIMIT, STOP_MARKET):
            if not self.would_trigger(side, stop_price):
                self.stops.append(
                    RefStop(
                        order_id,
                        owner,
                        side,
                        type,
                        stop_price,
                        price,
                        quantity,
                        quote_budget,
                        time_in_force,
                        stp,
                        expire_time,
                        self.seq + 1,
                    )
                )
                self.seq += 1
                return [StopRested(order_id, side, stop_price)]
            if not trigger_immediately:
                return [Rejected(order_id, "stop_would_trigger")]
            events.append(Triggered(order_id, side, stop_price, self.last))
            type = LIMIT if type == STOP_LIMIT else MARKET
        events += self.enter(
            order_id, owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp, expire_time
        )
        return self.consequences(events, 0)

    def submit_oco(
        self,
        limit_id,
        stop_id,
        owner,
        side,
        quantity,
        price,
        stop_price,
        stop_limit_price=None,
        quote_budget=None,
        time_in_force=GTC,
        expire_time=None,
        stp=CANCEL_TAKER,
    ) -> list:
        stop_type = STOP_MARKET if stop_limit_price is None else STOP_LIMIT
        ok = (
            _is_int(limit_id)
            and _is_int(stop_id)
            and limit_id != stop_id
            and _is_int(price)
            and price > 0
            and _one_of(time_in_force, (GTC, GTD))
            and quantity is not None
            and self._valid(
                owner,
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
        )
        if not ok:
            return [Rejected(limit_id, "invalid_order"), Rejected(stop_id, "invalid_order")]
        if any(self.find(i) is not None or self.find_stop(i) is not None for i in (limit_id, stop_id)):
            return [Rejected(limit_id, "duplicate_order_id"), Rejected(stop_id, "duplicate_order_id")]
        if time_in_force == GTD and self.now is not None and expire_time <= self.now:
            return [Canceled(limit_id, "expired", quantity), Canceled(stop_id, "expired", quantity)]
        if self.would_trigger(side, stop_price):
            return [Rejected(limit_id, "stop_would_trigger"), Rejected(stop_id, "stop_would_trigger")]
        events = self.enter(limit_id, owner, side, LIMIT, price, quantity, None, time_in_force, False, stp, expire_time)
        if events == [Rested(limit_id, side, price, quantity)]:
            self.seq += 1
            self.stops.append(
                RefStop(
                    stop_id,
                    owner,
                    side,
                    stop_type,
                    stop_price,
                    stop_limit_price,
                    quantity,
                    quote_budget,
                    time_in_force,
                    stp,
                    expire_time,
                    self.seq,
                )
            )
            self.pairs.append((limit_id, stop_id))
            return events + [StopRested(stop_id, side, stop_price)]
        events.append(Canceled(stop_id, "oco_other_leg", quantity))
        return self.consequences(events, 0)

    def amend(self, order_id, quantity=None, price=None) -> list:
        o = self.find(order_id) if _is_int(order_id) else None
        if o is None:
            stop = _is_int(order_id) and self.find_stop(order_id) is not None
            return [AmendRejected(order_id, "not_amendable" if stop else "unknown_order")]
        if self.pair_of(order_id) is not None:
            return [AmendRejected(order_id, "not_amendable")]
        ok_q = quantity is None or (_is_int(quantity) and quantity > 0)
        ok_p = price is None or (_is_int(price) and price > 0)
        if (quantity is None and price is None) or not (ok_q and ok_p):
            return [AmendRejected(order_id, "invalid_order")]
        new_price = o.price if price is None else price
        new_qty = o.qty if quantity is None else quantity
        if new_price == o.price and new_qty <= o.qty:
            o.qty = new_qty
            return [Amended(order_id, o.side, new_price, new_qty, True)]
        if o.post_only:
            other = self.asks() if o.side == BUY else self.bids()
            if any((m.price <= new_price) if o.side == BUY else (m.price >= new_price) for m in other):
                return [AmendRejected(order_id, "post_only_would_take")]
        self.resting.remove(o)
        events = [Amended(order_id, o.side, new_price, new_qty, False)]
        events += self.enter(
            order_id, o.owner, o.side, LIMIT, new_price, new_qty, None, o.tif, o.post_only, o.stp, o.expire
        )
        return self.consequences(events, 1)

    def consequences(self, events: list, start: int) -> list:
        """OCO pairs of legs that traded or went, then stops crossed by each trade, then their entries."""
        queue: list = []
        i = start
        while True:
            n = len(events)
            for ev in events[i:n]:
                if isinstance(ev, (Rested, StopRested, Triggered, Amended)):
                    continue
                ids = [ev.maker_id, ev.taker_id] if isinstance(ev, Trade) else [ev.order_id]
                for oid in ids:
                    events += self.drop_pair_of(oid, "oco_other_leg")
            for ev in events[i:n]:
                if isinstance(ev, Trade):
                    buys = sorted(
                        (s for s in self.stops if s.side == BUY and s.stop_price <= ev.price),
                        key=lambda s: (s.stop_price, s.seq),
                    )
                    sells = sorted(
                        (s for s in self.stops if s.side == SELL and s.stop_price >= ev.price),
                        key=lambda s: (-s.stop_price, s.seq),
                    )
                    for s in buys + sells:
                        self.stops.remove(s)
                        queue.append((s, ev.price))
                        events += self.drop_pair_of(s.order_id, "oco_other_leg")
            if not queue:
                return events
            i = len(events)
            s, price = queue.pop(0)
            events.append(Triggered(s.order_id, s.side, s.stop_price, price))
            base = LIMIT if s.type == STOP_LIMIT else MARKET
            events += self.enter(
                s.order_id, s.owner, s.side, base, s.price, s.qty, s.budget, s.tif, False, s.stp, s.expire
            )

    def enter(self, order_id, owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp, expire):
        """A valid limit or market order meets the book (the original rules)."""
        makers = self.asks() if side == BUY else self.bids()
        if type == LIMIT:
            if side == BUY:
                makers = [m for m in makers if m.price <= price]
            else:
                makers = [m for m in makers if m.price >= price]

        if post_only:
            if makers:
                return [Rejected(order_id, "post_only_would_take")]
            self.rest(order_id, owner, side, price, quantity, time_in_force, True, stp, expire)
            return [Rested(order_id, side, price, quantity)]

        if type == MARKET and not makers:
            return [Canceled(order_id, "no_liquidity", quantity or 0)]

        if time_in_force == FOK and type == LIMIT:
            available = 0
            fillable = False
            for m in makers:
                if m.owner == owner:
                    if stp == CANCEL_MAKER:
                        continue
                    break
                available += m.qty
                if available >= quantity:
                    fillable = True
                    break
            if not fillable:
                return [Canceled(order_id, "fok_unfillable", quantity)]

        events: list = []
        left = quantity  # None: limited by the budget only
        budget = quote_budget
        traded = 0
        stop = None
        i = 0
        while i < len(makers):  # a maker is looked at again until it is gone
            m = makers[i]
            if left == 0:
                break
            if budget is not None and budget < m.price:
                stop = "budget"
                break
            if m.owner == owner:
                if stp == CANCEL_TAKER:
                    stop = "self_trade"
                    break
                self.resting.remove(m)
                events.append(Canceled(m.order_id, "self_trade", m.qty))
                if stp == CANCEL_BOTH:
                    stop = "self_trade"
                    break
                i += 1
                continue
            n = m.qty
            if left is not None:
                n = min(n, left)
            if budget is not None:
                n = min(n, budget // m.price)
            events.append(Trade(m.order_id, order_id, m.price, n, side, m.owner, owner))
            self.last = m.price
            m.qty -= n
            if m.qty == 0:
                self.resting.remove(m)
                events.append(Filled(m.order_id))
                i += 1
            if left is not None:
                left -= n
            if budget is not None:
                budget -= n * m.price
            traded += n

        if type == LIMIT:
            if left == 0:
                events.append(Filled(order_id))
            elif stop == "self_trade":
                events.append(Canceled(order_id, "self_trade", left))
            elif time_in_force in (GTC, GTD):
                self.rest(order_id, owner, side, price, left, time_in_force, False, stp, expire)
                events.append(Rested(order_id, side, price, left))
            else:
                events.append(Canceled(order_id, "ioc_remainder", left))
        elif left is None:  # market buy with only a budget
            if stop == "self_trade":
                events.append(Canceled(order_id, "self_trade", 0))
            elif stop == "budget":
                if traded:
                    events.append(Filled(order_id))
                else:
                    events.append(Canceled(order_id, "insufficient_budget", 0))
            else:
                events.append(Canceled(order_id, "no_liquidity", 0))
        elif left == 0:
            events.append(Filled(order_id))
        elif stop == "self_trade":
            events.append(Canceled(order_id, "self_trade", left))
        elif stop == "budget":
            events.append(Canceled(order_id, "insufficient_budget", left))
        else:
            events.append(Canceled(order_id, "no_liquidity", left))
        return events
