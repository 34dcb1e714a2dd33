"""Many clients at once, and processes killed mid-stream, on the real stack."""

import random
import threading
import time
from decimal import Decimal as D

import pytest

from markets.models import Order
from wallets.models import Wallet

from .stack import wait_settled

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ALLOWED = {200, 201, 202, 400, 409}


def random_orders(
    trader, *, seconds: float, seed: int, accepted: list, statuses: list, stop=None, min_requests: int = 0
) -> None:
    """Random places and cancels for ``seconds``, and at least ``min_requests`` (a loaded box is slower)."""
    rng = random.Random(seed)
    mine: list[int] = []
    deadline = time.monotonic() + seconds
    made = 0
    while (time.monotonic() < deadline or made < min_requests) and not (stop and stop.is_set()):
        made += 1
        roll = rng.random()
        if roll < 0.25 and mine:
            resp = trader.http.delete(f"/api/v1/orders/{mine.pop(rng.randrange(len(mine)))}")
        else:
            side = rng.choice(["buy", "sell"])
            price = D(30000 + rng.randint(-20, 20))
            qty = D(rng.randint(1, 50)) / 1000
            if roll < 0.35:
                resp = trader.place(side=side, type="market", quantity=str(qty))
            else:
                resp = trader.place(side=side, type="limit", price=str(price), quantity=str(qty))
            if resp.status_code == 201:
                mine.append(resp.json()["id"])
                accepted.append(resp.json()["id"])
        statuses.append(resp.status_code)


def test_twenty_four_threads_on_shared_wallets_never_overdraw_or_deadlock(stack, live_market, make_live_trader):
    market = live_market
    traders = [make_live_trader(stack, market, base="3", quote="90000") for _ in range(3)]
    accepted: list[int] = []
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=random_orders,
            args=(traders[i % 3],),
            kwargs={"seconds": 8, "seed": i, "accepted": accepted, "statuses": statuses, "min_requests": 12},
        )
        for i in range(24)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hung (deadlock?)"
    assert set(statuses) <= ALLOWED, sorted(set(statuses))
    assert len(accepted) > 100
    wait_settled(market, timeout=120)
    for wallet in Wallet.objects.all():
        assert D(0) <= wallet.locked <= wallet.balance
    assert not Order.objects.filter(pk__in=accepted, status="new").exists()
    audit = stack.manage("audit_ledger")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_matcher_and_worker_killed_mid_stream_lose_nothing(stack, live_market, make_live_trader):
    market = live_market
    traders = [make_live_trader(stack, market, base="5", quote="200000") for _ in range(4)]
    accepted: list[int] = []
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=random_orders,
            args=(traders[i % 4],),
            kwargs={"seconds": 9, "seed": 100 + i, "accepted": accepted, "statuses": statuses},
        )
        for i in range(8)
    ]
    for t in threads:
        t.start()
    # The timeline is the subject: kills land mid-stream while the traders keep sending.
    time.sleep(2)
    stack.kill("matcher")  # SIGKILL, mid-stream
    time.sleep(1)
    stack.start("matcher")
    time.sleep(2)
    stack.kill("worker")
    time.sleep(1)
    stack.start("worker")
    for t in threads:
        t.join(timeout=120)
    assert set(statuses) <= ALLOWED, sorted(set(statuses))
    wait_settled(market, timeout=120)
    orders = Order.objects.filter(pk__in=accepted)
    assert orders.count() == len(accepted), "an accepted order vanished"
    assert not orders.filter(status="new").exists()
    audit = stack.manage("audit_ledger")
    assert audit.returncode == 0, audit.stdout + audit.stderr
