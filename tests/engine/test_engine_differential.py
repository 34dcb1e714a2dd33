"""Differential tests: the engine against the brute-force reference model.

Thousands of random command sequences (a Hypothesis state machine plus seeded
random streams, some shallow and busy with self-trade prevention, stops, OCO
pairs, amends and GTD expiry, some deep with many cancels in the middle of long
levels) must give identical events and identical books after every step;
``Harness.check`` adds the invariants.
"""

from __future__ import annotations

import random

import pytest
from engine_harness import Harness
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

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
)

ids = st.integers(1, 30)
owners = st.integers(1, 4)
sides = st.sampled_from([BUY, SELL])
prices = st.integers(1, 9)
qtys = st.integers(1, 8)
tifs = st.sampled_from([GTC, GTC, IOC, FOK])
stps = st.sampled_from([CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH])
junk = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.booleans(),
    st.text(max_size=3),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=1),
    st.sampled_from([BUY, SELL, LIMIT, MARKET, GTC, IOC, FOK, GTD, STOP_LIMIT, STOP_MARKET]),
)
times = st.integers(0, 12)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()
        self.clock = 0

    @rule(oid=ids, owner=owners, side=sides, price=prices, qty=qtys, post_only=st.booleans(), dt=times, stp=stps)
    def gtd_limit(self, oid, owner, side, price, qty, post_only, dt, stp):
        self.h.submit(
            oid,
            owner,
            side,
            price=price,
            quantity=qty,
            time_in_force=GTD,
            post_only=post_only,
            stp=stp,
            expire_time=self.clock + dt - 2,
        )

    @rule(
        oid=ids,
        owner=owners,
        side=sides,
        stop=prices,
        price=st.none() | prices,
        qty=st.none() | qtys,
        budget=st.none() | st.integers(1, 80),
        tif=st.sampled_from([GTC, GTC, IOC, FOK, GTD]),
        stp=stps,
        now=st.booleans(),
        dt=times,
    )
    def stop(self, oid, owner, side, stop, price, qty, budget, tif, stp, now, dt):
        if price is None:  # stop-market
            if side == SELL or qty is not None:
                budget = None if side == SELL else budget
                qty = qty or 1
            tif = GTC if tif == FOK else tif
            kind = STOP_MARKET
        else:
            qty, budget, kind = qty or 1, None, STOP_LIMIT
        expire = self.clock + dt if tif == GTD else None
        self.h.submit(
            oid,
            owner,
            side,
            kind,
            price,
            qty,
            budget,
            tif,
            False,
            stp,
            stop_price=stop,
            trigger_immediately=now,
            expire_time=expire,
        )

    @rule(
        a=ids,
        b=ids,
        owner=owners,
        side=sides,
        qty=qtys,
        price=prices,
        stop=prices,
        stop_limit=st.none() | prices,
        gtd=st.booleans(),
        dt=times,
        stp=stps,
    )
    def oco(self, a, b, owner, side, qty, price, stop, stop_limit, gtd, dt, stp):
        self.h.submit_oco(
            a,
            b,
            owner,
            side,
            qty,
            price,
            stop,
            stop_limit,
            time_in_force=GTD if gtd else GTC,
            expire_time=self.clock + dt if gtd else None,
            stp=stp,
        )

    @rule(oid=ids, qty=st.none() | qtys, price=st.none() | prices)
    def amend(self, oid, qty, price):
        self.h.amend(oid, qty, price)

    @precondition(lambda self: len(self.h.book) > 0)
    @rule(data=st.data(), down=st.booleans())
    def amend_resting(self, data, down):
        o = data.draw(st.sampled_from(self.h.book.orders()))
        if down:
            self.h.amend(o.order_id, quantity=data.draw(st.integers(1, o.quantity)))
        else:
            self.h.amend(o.order_id, quantity=data.draw(st.none() | qtys), price=data.draw(prices))

    @precondition(lambda self: len(self.h.book.stops()) > 0)
    @rule(data=st.data())
    def cancel_stop(self, data):
        self.h.cancel(data.draw(st.sampled_from(self.h.book.stops())).order_id)

    @rule(dt=st.integers(-2, 6))
    def expire(self, dt):
        self.clock += dt
        self.h.expire(self.clock)

    @rule()
    def restart_piecewise(self):
        self.h.restart_piecewise()

    @rule(
        oid=ids | junk,
        quantity=qtys | junk,
        price=prices | junk,
    )
    def amend_junk(self, oid, quantity, price):
        self.h.amend(oid, quantity, price)

    @rule(
        oid=ids,
        owner=owners | junk,
        side=sides | junk,
        type_=junk,
        price=prices | junk,
        qty=qtys | junk,
        tif=tifs | junk,
        stop=prices | junk,
        now=junk,
        expire=times | junk,
    )
    def anything_new(self, oid, owner, side, type_, price, qty, tif, stop, now, expire):
        self.h.submit(oid, owner, side, type_, price, qty, None, tif, False, "cancel_taker", stop, now, expire)

    @rule(
        a=ids | junk,
        b=ids | junk,
        owner=owners | junk,
        side=sides | junk,
        qty=qtys | junk,
        price=prices | junk,
        stop=prices | junk,
        stop_limit=prices | junk,
        budget=junk,
        tif=tifs | junk,
        expire=times | junk,
    )
    def oco_junk(self, a, b, owner, side, qty, price, stop, stop_limit, budget, tif, expire):
        self.h.submit_oco(
            a,
            b,
            owner,
            side,
            qty,
            price,
            stop,
            stop_limit,
            quote_budget=budget,
            time_in_force=tif,
            expire_time=expire,
        )

    @rule(now=junk)
    def expire_junk(self, now):
        self.h.expire(now)

    @rule(oid=ids, owner=owners, side=sides, price=prices, qty=qtys, tif=tifs, post_only=st.booleans(), stp=stps)
    def limit(self, oid, owner, side, price, qty, tif, post_only, stp):
        self.h.submit(
            oid, owner, side, price=price, quantity=qty, time_in_force=tif, post_only=post_only and tif == GTC, stp=stp
        )

    @rule(oid=ids, owner=owners, side=sides, price=prices, qty=qtys)
    def plain_limit(self, oid, owner, side, price, qty):  # the engine's fast path
        self.h.submit(oid, owner, side, LIMIT, price, qty)

    @rule(oid=ids, owner=owners, side=sides, qty=st.none() | qtys, budget=st.none() | st.integers(1, 80), stp=stps)
    def market(self, oid, owner, side, qty, budget, stp):
        if qty is None and budget is None:
            qty = 1
        if side == SELL:
            budget = None
            qty = qty or 1
        self.h.submit(oid, owner, side, MARKET, quantity=qty, quote_budget=budget, stp=stp)

    @rule(oid=ids)
    def cancel(self, oid):
        self.h.cancel(oid)

    @precondition(lambda self: len(self.h.book) > 0)
    @rule(data=st.data())
    def cancel_resting(self, data):
        resting = [o.order_id for o in self.h.book.orders()]
        self.h.cancel(data.draw(st.sampled_from(resting)))

    @rule()
    def restart(self):
        self.h.restart()

    @rule(
        oid=ids | junk,
        owner=owners | junk,
        side=sides | junk,
        type_=junk,
        price=prices | junk,
        qty=qtys | junk,
        budget=junk,
        tif=tifs | junk,
        post_only=junk,
        stp=stps | junk,
    )
    def anything(self, oid, owner, side, type_, price, qty, budget, tif, post_only, stp):
        self.h.submit(oid, owner, side, type_, price, qty, budget, tif, post_only, stp)

    @rule(oid=junk)
    def cancel_junk(self, oid):
        self.h.cancel(oid)


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(
    max_examples=600,
    print_blob=True,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _random_command(h: Harness, rng: random.Random, next_id: int, max_price: int, owners: int) -> None:
    r = rng.random()
    side = rng.choice((BUY, SELL))
    owner = rng.randint(1, owners)
    stp = rng.choice((CANCEL_TAKER, CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH))
    if r < 0.45:
        h.submit(next_id, owner, side, LIMIT, rng.randint(1, max_price), rng.randint(1, 10))
    elif r < 0.6:
        tif = rng.choice((GTC, IOC, FOK))
        post_only = tif == GTC and rng.random() < 0.3
        h.submit(
            next_id,
            owner,
            side,
            LIMIT,
            rng.randint(1, max_price),
            rng.randint(1, 25),
            time_in_force=tif,
            post_only=post_only,
            stp=stp,
        )
    elif r < 0.7:
        if side == BUY and rng.random() < 0.5:
            qty = rng.choice((None, rng.randint(1, 30)))
            budget = rng.randint(1, 30 * max_price)
        else:
            qty, budget = rng.randint(1, 30), None
        h.submit(next_id, owner, side, MARKET, quantity=qty, quote_budget=budget, stp=stp)
    elif r < 0.85:
        resting = [o.order_id for o in h.book.orders()] + [s.order_id for s in h.book.stops()]
        if resting and rng.random() < 0.9:
            h.cancel(rng.choice(resting))
        else:
            h.cancel(rng.randint(1, next_id + 1))
    elif r < 0.87:
        h.submit(rng.randint(1, next_id), owner, side, LIMIT, rng.randint(1, max_price), 1)  # maybe duplicate
    elif r < 0.88:
        h.restart() if rng.random() < 0.5 else h.restart_piecewise()
    elif r < 0.94:
        _random_new_type(h, rng, next_id, max_price, owner, side, stp)
    elif r < 0.97:
        resting = h.book.orders()
        if resting:
            o = rng.choice(resting)
            if rng.random() < 0.5:
                h.amend(o.order_id, quantity=rng.randint(1, o.quantity))
            else:
                h.amend(o.order_id, quantity=rng.choice((None, rng.randint(1, 25))), price=rng.randint(1, max_price))
    else:
        h.expire(next_id // 3)


def _random_new_type(h: Harness, rng: random.Random, next_id: int, max_price: int, owner: int, side: str, stp: str):
    """A stop order, an OCO pair or a GTD limit, with expiry times near the sequence's clock (next_id // 3)."""
    r = rng.random()
    expire = next_id // 3 + rng.randint(-1, 8)
    stop = rng.randint(1, max_price)
    if r < 0.45:
        if rng.random() < 0.5:
            tif = rng.choice((GTC, IOC, FOK, GTD))
            kind, price, qty, budget = STOP_LIMIT, rng.randint(1, max_price), rng.randint(1, 25), None
        else:
            tif = rng.choice((GTC, IOC, GTD))
            kind, price = STOP_MARKET, None
            qty, budget = rng.randint(1, 25), None
            if side == BUY and rng.random() < 0.5:
                qty, budget = rng.choice((None, qty)), rng.randint(1, 30 * max_price)
        h.submit(
            next_id,
            owner,
            side,
            kind,
            price,
            qty,
            budget,
            tif,
            False,
            stp,
            stop_price=stop,
            trigger_immediately=rng.random() < 0.5,
            expire_time=expire if tif == GTD else None,
        )
    elif r < 0.75:
        gtd = rng.random() < 0.3
        h.submit_oco(
            next_id,
            -next_id,
            owner,
            side,
            rng.randint(1, 20),
            rng.randint(1, max_price),
            stop,
            rng.choice((None, rng.randint(1, max_price))),
            time_in_force=GTD if gtd else GTC,
            expire_time=expire if gtd else None,
            stp=stp,
        )
    else:
        h.submit(
            next_id,
            owner,
            side,
            LIMIT,
            rng.randint(1, max_price),
            rng.randint(1, 25),
            time_in_force=GTD,
            post_only=rng.random() < 0.2,
            stp=stp,
            expire_time=expire,
        )


@pytest.mark.parametrize("block", range(4))
def test_random_shallow_sequences(block):
    """2000 short sequences on a few prices and owners: lots of STP, FOK, budgets."""
    for seed in range(block * 500, (block + 1) * 500):
        rng = random.Random(seed)
        h = Harness()
        for n in range(1, 41):
            _random_command(h, rng, n, max_price=6, owners=3)


@pytest.mark.parametrize("seed", range(6))
def test_random_deep_sequences(seed):
    """Long sequences building deep levels with cancels in their middle (lazy deletion, compaction)."""
    rng = random.Random(10_000 + seed)
    h = Harness()
    next_id = 0
    for _ in range(1500):
        next_id += 1
        r = rng.random()
        if r < 0.6:
            # makers well away from the spread: bids 1..5, asks 8..12
            side = rng.choice((BUY, SELL))
            price = rng.randint(1, 5) if side == BUY else rng.randint(8, 12)
            h.submit(next_id, rng.randint(1, 50), side, LIMIT, price, rng.randint(1, 5))
        elif r < 0.9:
            resting = [o.order_id for o in h.book.orders()]
            if resting:
                h.cancel(rng.choice(resting))
        else:
            _random_command(h, rng, next_id, max_price=12, owners=50)
    assert h.trades > 0


@pytest.mark.parametrize("block", range(2))
def test_random_stop_heavy_sequences(block):
    """1000 short sequences where 40% of the commands are stops, OCO pairs or GTD orders."""
    for seed in range(50_000 + block * 500, 50_000 + (block + 1) * 500):
        rng = random.Random(seed)
        h = Harness()
        for n in range(1, 41):
            if rng.random() < 0.4:
                stp = rng.choice((CANCEL_TAKER, CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH))
                _random_new_type(h, rng, n, 6, rng.randint(1, 3), rng.choice((BUY, SELL)), stp)
            else:
                _random_command(h, rng, n, max_price=6, owners=3)
