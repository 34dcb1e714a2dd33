"""``bench_ws --feed direct``: the asked number of valid orders, placed on schedule, with their locks."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from markets.models import Order
from tests.factories import MarketFactory, UserFactory
from tests.wallets.helpers import deposit
from tools.directfeeder import direct_feed, direct_orders
from wallets.audit import ledger_audit
from wallets.models import LedgerEntry


def test_direct_orders_cross_about_half_the_time():
    orders = direct_orders(random.Random(1), [1, 2, 3], 2000)
    crossing = sum(1 for _, side, p, _ in orders if (p > D("100")) == (side == "buy") and p != D("100"))
    assert 800 < crossing < 1100
    assert {user for user, *_ in orders} == {1, 2, 3}
    assert all(D("99.85") <= p <= D("100.15") and D("0.001") <= qty <= D("0.05") for _, _, p, qty in orders)


@pytest.mark.django_db(transaction=True)
def test_direct_feed_places_the_asked_orders_with_their_locks():
    market = MarketFactory(min_notional=D("0.01"))
    users = [UserFactory() for _ in range(2)]
    for user in users:
        deposit(user, market.base, "100")
        deposit(user, market.quote, "100000")
    logged: list[str] = []
    report = direct_feed(market, [u.pk for u in users], rate=40, seconds=0.5, log=logged.append)
    assert report["statuses"] == {"direct 201": 20}
    assert (report["due"], report["sent"]) == (20, 20)
    assert 0.5 <= report["elapsed"] < 5
    orders = Order.objects.filter(market=market)
    assert orders.count() == 20
    assert set(orders.values_list("type", flat=True)) == {Order.Type.LIMIT}
    locks = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).count()
    assert locks == 20
    assert ledger_audit(wait_seconds=0).ok
