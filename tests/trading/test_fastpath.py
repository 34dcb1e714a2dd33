"""Placement and cancel in one statement each on PostgreSQL (trading/fastpath.py).

The fast forms must write what the general path writes (order row, wallet, ledger line),
refuse what it refuses with nothing written, announce the same events after commit, and
never let concurrent placements lock more than a wallet holds.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange_site import events
from exchange_site.events import OrderPlaced, OrdersChanged, WalletsChanged
from markets.models import Order
from tests.concurrency import race
from tests.factories import fund
from trading.services import InsufficientFunds, OrderRequest, order_cancel, order_place
from wallets.audit import ledger_audit
from wallets.models import LedgerEntry, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDER = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.1"}


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement forms exist on PostgreSQL only")


@pytest.fixture
def heard():
    """Events announced, in order: (type name, payload)."""
    got: list[tuple[str, object]] = []
    handlers = {
        OrderPlaced: lambda e: got.append(("OrderPlaced", e.order.pk)),
        WalletsChanged: lambda e: got.append(("WalletsChanged", list(e.wallet_ids))),
        OrdersChanged: lambda e: got.append(("OrdersChanged", e.market_id)),
    }
    for kind, handler in handlers.items():
        events.subscribe(kind, handler)
    yield got
    for kind, handler in handlers.items():
        events.unsubscribe(kind, handler)


def test_placing_is_one_statement_and_writes_order_wallet_and_ledger_line(market, make_trader, auth_client, heard):
    alice = make_trader()
    fund(alice, market.quote, "1000")
    client = auth_client(alice)
    client.post("/api/v1/orders", ORDER, format="json")  # warms the caches
    heard.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/orders", dict(ORDER, client_order_id="one-1"), format="json")
    assert response.status_code == 201, response.content
    assert len(queries.captured_queries) == 1
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.client_order_id, order.status, order.locked_amount) == ("one-1", "new", Decimal("10"))
    wallet = Wallet.objects.get(user=alice, currency=market.quote)
    assert (wallet.balance, wallet.locked) == (Decimal("1000"), Decimal("20"))
    entry = LedgerEntry.objects.get(reference=f"order:{order.pk}")
    assert (entry.wallet_id, entry.user_id, entry.currency_id, entry.kind) == (
        wallet.pk,
        alice.pk,
        market.quote_id,
        LedgerEntry.Kind.ORDER_LOCK,
    )
    assert (entry.amount, entry.locked_change, entry.balance_after, entry.locked_after) == (
        Decimal(0),
        Decimal("10"),
        Decimal("1000"),
        Decimal("20"),
    )
    # The wallet first, then the owner's `new` frame, as the general path announces them.
    assert heard == [("WalletsChanged", [wallet.pk]), ("OrderPlaced", order.pk)]
    assert ledger_audit(wait_seconds=0).ok


def test_a_refused_placement_writes_nothing_and_says_what_is_available(market, make_trader, auth_client, heard):
    alice = make_trader()
    fund(alice, market.quote, "5")
    heard.clear()
    response = auth_client(alice).post("/api/v1/orders", ORDER, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "insufficient_funds",
        "message": "Insufficient available balance.",
        "details": {"currency": "USDT", "available": "5"},
    }
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).exists()
    assert Wallet.objects.get(user=alice, currency=market.quote).locked == 0
    assert heard == []


def test_no_wallet_at_all_is_insufficient_funds(market, make_trader, auth_client):
    response = auth_client(make_trader()).post("/api/v1/orders", ORDER, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"currency": "USDT", "available": "0"}


def test_a_retried_client_order_id_returns_the_order_and_locks_once(market, make_trader, auth_client):
    alice = make_trader()
    fund(alice, market.quote, "1000")
    client = auth_client(alice)
    body = dict(ORDER, client_order_id="retry-1")
    first = client.post("/api/v1/orders", body, format="json")
    again = client.post("/api/v1/orders", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Wallet.objects.get(user=alice, currency=market.quote).locked == Decimal("10")
    other = client.post("/api/v1/orders", dict(body, price="101.00"), format="json")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "duplicate_client_order_id"
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).count() == 1


def test_concurrent_placements_never_lock_more_than_the_wallet_holds(market, make_trader):
    alice = make_trader()
    fund(alice, market.quote, "55")
    request = OrderRequest(side="buy", type="limit", price=Decimal("100"), quantity=Decimal("0.1"))
    results = race(*[lambda: order_place(user_id=alice.pk, market=market, order=request) for _ in range(8)])
    placed = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(placed), len(refused)) == (5, 3), results
    wallet = Wallet.objects.get(user=alice, currency=market.quote)
    assert (wallet.balance, wallet.locked) == (Decimal("55"), Decimal("50"))
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).count() == 5
    assert ledger_audit(wait_seconds=0).ok


def test_a_sell_locks_base_and_a_market_buy_by_budget_locks_the_budget(market, make_trader):
    bob = make_trader()
    fund(bob, market.base, "1")
    fund(bob, market.quote, "100")
    sell, _ = order_place(
        user_id=bob.pk,
        market=market,
        order=OrderRequest(side="sell", type="limit", price=Decimal("100"), quantity=Decimal("0.3")),
    )
    buy, _ = order_place(
        user_id=bob.pk, market=market, order=OrderRequest(side="buy", type="market", quote_quantity=Decimal("40"))
    )
    assert Wallet.objects.get(user=bob, currency=market.base).locked == Decimal("0.3")
    assert Wallet.objects.get(user=bob, currency=market.quote).locked == Decimal("40")
    assert Order.objects.get(pk=buy.pk).time_in_force == "IOC"
    assert ledger_audit(wait_seconds=0).ok


def test_cancel_is_one_statement_and_a_second_cancel_changes_nothing(market, make_trader, auth_client, heard):
    alice = make_trader()
    fund(alice, market.quote, "1000")
    client = auth_client(alice)
    order_id = client.post("/api/v1/orders", ORDER, format="json").json()["id"]
    heard.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.delete(f"/api/v1/orders/{order_id}")
    assert response.status_code == 202
    assert len(queries.captured_queries) == 1
    assert (response.json()["id"], response.json()["status"]) == (order_id, "new")
    requested_at = Order.objects.get(pk=order_id).cancel_requested_at
    assert requested_at is not None
    assert heard == [("OrdersChanged", market.pk)]
    again = order_cancel(user_id=alice.pk, order_id=order_id)
    assert again.cancel_requested_at == requested_at
    assert heard == [("OrdersChanged", market.pk)]


def test_cancel_of_someone_elses_or_a_closed_order_is_refused(market, make_trader, auth_client):
    alice, mallory = make_trader(), make_trader()
    fund(alice, market.quote, "1000")
    order_id = auth_client(alice).post("/api/v1/orders", ORDER, format="json").json()["id"]
    assert auth_client(mallory).delete(f"/api/v1/orders/{order_id}").status_code == 404
    Order.objects.filter(pk=order_id).update(status="canceled")
    response = auth_client(alice).delete(f"/api/v1/orders/{order_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_not_cancelable"
    assert Order.objects.get(pk=order_id).cancel_requested_at is None
