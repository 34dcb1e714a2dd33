"""Balances, ledger and deposit lists show only the caller's own rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import Order
from tests.factories import CurrencyFactory, MarketFactory, UserFactory
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import Deposit, LedgerEntry

from .helpers import deposit, place

D = Decimal


@pytest.fixture
def market(db):
    return MarketFactory()


@pytest.fixture
def alice(market):
    user = UserFactory()
    deposit(user, market.quote, "1000", txid="alice-usdt")
    deposit(user, market.base, "1.5", txid="alice-btc")
    place(user, market, Order.Side.BUY, price="100", quantity="2")
    return user


@pytest.fixture
def bob(market):
    user = UserFactory()
    deposit(user, market.quote, "7", txid="bob-usdt")
    return user


def test_balances_list_every_currency_with_zeros_ordered_by_code(auth_client, market, alice, bob):
    CurrencyFactory(code="ETH")
    CurrencyFactory(code="AAA")

    response = auth_client(alice).get("/api/v1/balances")

    assert response.status_code == 200
    assert response.json() == [
        {"currency": "AAA", "balance": "0", "locked": "0", "available": "0"},
        {"currency": "BTC", "balance": "1.5", "locked": "0", "available": "1.5"},
        {"currency": "ETH", "balance": "0", "locked": "0", "available": "0"},
        {"currency": "USDT", "balance": "1000", "locked": "200", "available": "800"},
    ]


def test_balances_of_another_user_never_leak(auth_client, market, alice, bob):
    body = auth_client(bob).get("/api/v1/balances").json()

    assert {row["currency"]: row["balance"] for row in body} == {"BTC": "0", "USDT": "7"}


def test_ledger_lists_own_entries_newest_first(auth_client, market, alice, bob):
    response = auth_client(alice).get("/api/v1/ledger")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    results = body["results"]
    assert [r["kind"] for r in results] == ["order_lock", "deposit", "deposit"]
    assert [r["id"] for r in results] == sorted((r["id"] for r in results), reverse=True)
    lock = results[0]
    assert lock["currency"] == "USDT"
    assert lock["amount"] == "0"
    assert lock["locked_change"] == "200"
    assert lock["balance_after"] == "1000"
    assert lock["locked_after"] == "200"
    assert lock["reference"].startswith("order:")
    assert lock["time"].endswith("Z")
    assert set(lock) == {
        "id",
        "currency",
        "kind",
        "amount",
        "locked_change",
        "balance_after",
        "locked_after",
        "reference",
        "time",
    }
    own = set(LedgerEntry.objects.filter(user=alice).values_list("id", flat=True))
    assert {r["id"] for r in results} == own


def test_ledger_of_another_user_never_leaks(auth_client, market, alice, bob):
    results = auth_client(bob).get("/api/v1/ledger").json()["results"]

    assert len(results) == 1
    assert results[0]["amount"] == "7"


def test_ledger_filters_by_currency(auth_client, market, alice):
    results = auth_client(alice).get("/api/v1/ledger", {"currency": "BTC"}).json()["results"]

    assert [(r["currency"], r["kind"], r["amount"]) for r in results] == [("BTC", "deposit", "1.5")]


def test_ledger_with_unknown_currency_is_400(auth_client, market, alice):
    response = auth_client(alice).get("/api/v1/ledger", {"currency": "NOPE"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_ledger_pages_with_limit_and_cursor(auth_client, market, alice):
    client = auth_client(alice)
    all_ids = [r["id"] for r in client.get("/api/v1/ledger").json()["results"]]

    first = client.get("/api/v1/ledger", {"limit": 2}).json()
    second = client.get("/api/v1/ledger", {"limit": 2, "cursor": first["next"]}).json()

    assert [r["id"] for r in first["results"]] == all_ids[:2]
    assert first["next"]
    assert [r["id"] for r in second["results"]] == all_ids[2:]
    assert second["next"] is None


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "x"}, {"cursor": "%%%"}, {"cursor": "LTE"}])
def test_ledger_bad_paging_parameters_are_400(auth_client, market, alice, params):
    response = auth_client(alice).get("/api/v1/ledger", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_deposits_list_own_deposits_with_their_status(auth_client, market, alice, bob):
    pending_address = deposit_address_get(user=alice, currency=market.base).address
    custody_deposit_notify(
        currency_code="BTC", address=pending_address, amount=D("0.1"), txid="alice-pending", confirmations=0
    )

    body = auth_client(alice).get("/api/v1/deposits").json()

    assert body["next"] is None
    assert [(r["txid"], r["status"], r["amount"], r["currency"]) for r in body["results"]] == [
        ("alice-pending", "pending", "0.1", "BTC"),
        ("alice-btc", "credited", "1.5", "BTC"),
        ("alice-usdt", "credited", "1000", "USDT"),
    ]
    first = body["results"][0]
    assert {"id", "currency", "amount", "txid", "status", "confirmations", "time"} <= set(first)
    assert first["confirmations"] == 0


def test_deposits_of_another_user_never_leak(auth_client, market, alice, bob):
    results = auth_client(bob).get("/api/v1/deposits").json()["results"]

    assert [r["txid"] for r in results] == ["bob-usdt"]
    assert set(Deposit.objects.values_list("txid", flat=True)) > {"bob-usdt"}


def test_deposits_page_with_limit_and_cursor(auth_client, market, alice):
    client = auth_client(alice)

    first = client.get("/api/v1/deposits", {"limit": 1}).json()
    second = client.get("/api/v1/deposits", {"limit": 1, "cursor": first["next"]}).json()

    assert [r["txid"] for r in first["results"]] == ["alice-btc"]
    assert [r["txid"] for r in second["results"]] == ["alice-usdt"]
    assert second["next"] is None


@pytest.mark.parametrize("path", ["/api/v1/balances", "/api/v1/ledger", "/api/v1/deposits"])
def test_reads_require_authentication(api, path):
    response = api.get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("path", ["/api/v1/balances/", "/api/v1/ledger/", "/api/v1/deposits/"])
def test_trailing_slash_paths_do_not_exist(auth_client, market, alice, path):
    assert auth_client(alice).get(path).status_code == 404


def test_schema_describes_the_wallet_endpoints(api, db):
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/balances",
        "/api/v1/ledger",
        "/api/v1/deposits",
        "/api/v1/deposits/address",
        "/api/v1/custody/deposits",
    ):
        assert path in paths
