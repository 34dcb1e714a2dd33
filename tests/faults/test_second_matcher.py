"""A second run_matcher for the same market exits or waits; it never matches in parallel.

Runs on whichever database the pass uses: the PostgreSQL advisory lock in the services
pass, the file lock on SQLite in the default pass.
"""

from __future__ import annotations

import signal
import time
from decimal import Decimal as D

import pytest
from django.db import connection

from markets.models import Order
from tests.factories import MarketFactory, UserFactory, fund
from tests.integration.stack import wait_settled
from tools.waiting import wait_until
from trading.services import OrderRequest, order_place

pytestmark = [pytest.mark.integration]


def place(market, user, side: str, quantity: str) -> Order:
    request = OrderRequest(side=side, type="limit", price=D("30000"), quantity=D(quantity))
    order, _ = order_place(user_id=user.pk, market=market, order=request)
    return order


def wait_status(order: Order, status: str, timeout: float = 30) -> None:
    def current() -> str:
        order.refresh_from_db()
        return order.status

    wait_until(lambda: current() == status, timeout, what=f"order {order.pk} to be {status}")


def lock_kind() -> str:
    return "advisory lock" if connection.vendor == "postgresql" else "file lock"


def test_second_matcher_with_no_wait_exits_non_zero_with_a_clear_message(matchers):
    market = MarketFactory()
    first = matchers("first", "--market", market.symbol)
    first.wait_for(f"matching {market.symbol}")

    second = matchers("second", "--market", market.symbol, "--no-wait")
    assert second.proc.wait(timeout=60) != 0, lock_kind()
    assert f"another matcher is running market {market.symbol}" in second.output
    assert first.proc.poll() is None, "the first matcher must keep running"


def test_waiting_second_matcher_matches_nothing_until_the_first_is_killed_then_takes_over(matchers):
    market = MarketFactory()
    buyer, seller = UserFactory(), UserFactory()
    fund(buyer, market.quote, "100000")
    fund(seller, market.base, "1")
    first = matchers("first", "--market", market.symbol)
    first.wait_for(f"matching {market.symbol}")
    second = matchers("second", "--market", market.symbol)
    second.wait_for(f"another matcher holds market {market.symbol}; waiting for it to stop")

    resting = place(market, buyer, "buy", "0.1")
    wait_status(resting, Order.Status.OPEN)
    if connection.vendor == "sqlite":
        # Settlement runs inside the matcher there (eager Celery): once it caught up the
        # matcher only polls, so a stop cannot freeze it holding the database's write lock.
        wait_settled(market)
    # Fixed pause on purpose: let the matcher leave its last transaction and go back to
    # polling; nothing observable from here says it has.
    time.sleep(0.5)

    # Frozen, the first matcher still holds the lock: nobody may take the next order.
    first.signal(signal.SIGSTOP)
    queued = place(market, buyer, "buy", "0.1")
    time.sleep(3)  # the subject: for this long, nobody may match the queued order
    queued.refresh_from_db()
    assert queued.status == Order.Status.NEW, f"the waiting matcher matched in parallel ({lock_kind()})"
    assert f"matching {market.symbol}" not in second.output

    first.signal(signal.SIGKILL)
    second.wait_for(f"matching {market.symbol}")
    wait_status(queued, Order.Status.OPEN)
    # The book was rebuilt from the database: one sell fills both buys, oldest first.
    taker = place(market, seller, "sell", "0.2")
    wait_status(taker, Order.Status.FILLED)
    for order in (resting, queued):
        wait_status(order, Order.Status.FILLED)
