"""A deliberately naive reference model of the order book.

Resting orders live in one plain list; every question about priority is
answered by sorting that list from scratch.  No indexes, no lazy deletion, no
cleverness: it is slow and obviously follows the rules written in
docs/ENGINE.md, which is what the differential tests compare the engine with.
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
    IOC,
    LIMIT,
    MARKET,
    SELL,
    Canceled,
    CancelRejected,
    Filled,
    Rejected,
    Rested,
    Trade,
)


@dataclass
class RefOrder:
    order_id: int
    owner: int
    side: str
    price: int
    qty: int
    seq: int


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _one_of(x: object, allowed: tuple) -> bool:
    return isinstance(x, str) and x in allowed


class RefBook:
    def __init__(self) -> None:
        self.resting: list[RefOrder] = []
        self.seq = 0

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

    def rest(self, order_id: int, owner: int, side: str, price: int, qty: int) -> None:
        self.seq += 1
        self.resting.append(RefOrder(order_id, owner, side, price, qty, self.seq))

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

    def snapshot(self) -> list[tuple[int, int, str, int, int]]:
        return [(o.order_id, o.owner, o.side, o.price, o.qty) for o in self.bids() + self.asks()]

    # --------------------------------------------------------------- commands

    def cancel(self, order_id: object) -> list:
        o = self.find(order_id) if _is_int(order_id) else None  # type: ignore[arg-type]
        if o is None:
            return [CancelRejected(order_id, "unknown_order")]
        self.resting.remove(o)
        return [Canceled(o.order_id, "user", o.qty)]

    def _valid(self, owner, side, type_, price, quantity, budget, tif, post_only, stp) -> bool:
        if not _is_int(owner):
            return False
        if not (_one_of(side, (BUY, SELL)) and _one_of(type_, (LIMIT, MARKET))):
            return False
        if not (_one_of(tif, (GTC, IOC, FOK)) and _one_of(stp, (CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH))):
            return False
        if post_only is not True and post_only is not False:
            return False
        if quantity is not None and not (_is_int(quantity) and quantity > 0):
            return False
        if budget is not None and not (_is_int(budget) and budget > 0):
            return False
        if type_ == LIMIT:
            if not (_is_int(price) and price > 0) or quantity is None or budget is not None:
                return False
            return not (post_only and tif != GTC)
        # market
        if price is not None or post_only or tif == FOK:
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
    ) -> list:
        if not _is_int(order_id):
            return [Rejected(order_id, "invalid_order")]
        if not self._valid(owner, side, type, price, quantity, quote_budget, time_in_force, post_only, stp):
            return [Rejected(order_id, "invalid_order")]
        if self.find(order_id) is not None:
            return [Rejected(order_id, "duplicate_order_id")]

        makers = self.asks() if side == BUY else self.bids()
        if type == LIMIT:
            if side == BUY:
                makers = [m for m in makers if m.price <= price]
            else:
                makers = [m for m in makers if m.price >= price]

        if post_only:
            if makers:
                return [Rejected(order_id, "post_only_would_take")]
            self.rest(order_id, owner, side, price, quantity)
            return [Rested(order_id, side, price, quantity)]

        if type == MARKET and not makers:
            return [Canceled(order_id, "no_liquidity", quantity or 0)]

        if time_in_force == FOK and type == LIMIT and not _fok_fillable(makers, owner, stp, quantity):
            return [Canceled(order_id, "fok_unfillable", quantity)]

        events, left, traded, stop = self._take(makers, order_id, owner, side, quantity, quote_budget, stp)
        if type == LIMIT and left and stop != "self_trade" and time_in_force == GTC:
            self.rest(order_id, owner, side, price, left)
            events.append(Rested(order_id, side, price, left))
        else:
            events.append(_taker_close(order_id, type, left, traded, stop))
        return events

    def _take(
        self, makers, order_id, owner, side, quantity, quote_budget, stp
    ) -> tuple[list, int | None, int, str | None]:
        """Trade against ``makers`` in order: return (events, quantity left, quantity traded, why it stopped)."""
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
        return events, left, traded, stop


def _fok_fillable(makers, owner, stp, quantity) -> bool:
    """Can a fill-or-kill limit order fill completely before a self-trade stops it?"""
    available = 0
    for m in makers:
        if m.owner == owner:
            if stp == CANCEL_MAKER:
                continue
            return False
        available += m.qty
        if available >= quantity:
            return True
    return False


def _taker_close(order_id, type, left, traded, stop):
    """The taker's last event when no GTC limit remainder rests (the caller rests that one)."""
    if type == LIMIT:
        if left == 0:
            return Filled(order_id)
        if stop == "self_trade":
            return Canceled(order_id, "self_trade", left)
        return Canceled(order_id, "ioc_remainder", left)
    if left is None:  # market buy with only a budget
        if stop == "self_trade":
            return Canceled(order_id, "self_trade", 0)
        if stop == "budget":
            return Filled(order_id) if traded else Canceled(order_id, "insufficient_budget", 0)
        return Canceled(order_id, "no_liquidity", 0)
    if left == 0:
        return Filled(order_id)
    if stop == "self_trade":
        return Canceled(order_id, "self_trade", left)
    if stop == "budget":
        return Canceled(order_id, "insufficient_budget", left)
    return Canceled(order_id, "no_liquidity", left)
