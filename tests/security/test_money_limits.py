"""Finding 8: no input, alone or multiplied, overflows a numeric(36, 18) column.

Every Decimal the API reads is below 10**18 (``MoneyIn``); what is stored from a product
or a sum (a limit order's price x quantity, a wallet's balance after a credit) is checked
too, so the answer is a 400 and nothing is written, never a 500 from the database.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import DataError, connection, transaction

from markets.models import Order
from tests.factories import MarketFactory, fund
from tests.wallets.helpers import post_notice
from wallets.deposits import deposit_address_get
from wallets.models import Deposit, LedgerEntry, Wallet

pytestmark = pytest.mark.django_db
LIMIT = settings.MONEY_LIMIT  # 10**18


@pytest.fixture
def big_market(db):
    """Whole-number ticks and lots, so price and quantity can each be near 10**9."""
    return MarketFactory(tick_size=Decimal(1), lot_size=Decimal(1), min_qty=Decimal(1), min_notional=Decimal(1))


def ledger_state() -> tuple:
    return (
        list(Order.objects.values_list("id", flat=True)),
        sorted(LedgerEntry.objects.values_list("id", flat=True)),
        sorted(Wallet.objects.values_list("id", "balance", "locked")),
        list(Deposit.objects.values_list("id", "status")),
    )


def order(client, market, **fields):
    return client.post("/api/v1/orders", {"market": market.symbol, **fields}, format="json")


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_a_limit_order_worth_ten_to_the_eighteen_is_a_400_and_writes_nothing(
    big_market, make_trader, auth_client, side
):
    user = make_trader()
    fund(user, big_market.quote, "1000")
    fund(user, big_market.base, "1000")
    before = ledger_state()

    resp = order(auth_client(user), big_market, side=side, type="limit", price="1000000000", quantity="1000000000")

    assert resp.status_code == 400, resp.content
    body = resp.json()["error"]
    assert body["code"] == "invalid_quantity"
    assert "price x quantity" in body["message"]
    assert ledger_state() == before


def test_the_largest_storable_order_value_is_still_judged_on_funds(big_market, make_trader, auth_client):
    user = make_trader()
    fund(user, big_market.quote, "1000")

    resp = order(auth_client(user), big_market, side="buy", type="limit", price="999999999", quantity="1000000000")

    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "insufficient_funds"


@pytest.mark.parametrize(
    "fields",
    [
        {"side": "buy", "type": "market", "quote_quantity": "1000000000000000000"},
        {"side": "buy", "type": "limit", "price": "1", "quantity": "1000000000000000000"},
        {"side": "sell", "type": "limit", "price": "1000000000000000000", "quantity": "1"},
        {"side": "buy", "type": "market", "quote_quantity": "1e30"},
    ],
)
def test_every_order_amount_is_bounded_by_the_column(big_market, make_trader, auth_client, fields):
    user = make_trader()
    before = ledger_state()

    resp = order(auth_client(user), big_market, **fields)

    assert resp.status_code == 400, resp.content
    assert ledger_state() == before


def test_a_withdrawal_amount_beyond_the_column_is_a_400(market, make_trader, auth_client):
    user = make_trader()
    fund(user, market.base, "1")
    before = ledger_state()

    resp = auth_client(user).post(
        "/api/v1/withdrawals",
        {"currency": market.base.code, "amount": "1000000000000000000", "address": "bc1qexampleaddress0000"},
        format="json",
    )

    assert resp.status_code == 400, resp.content
    assert ledger_state() == before


def test_a_custody_deposit_beyond_the_column_is_a_400(api, market, make_trader):
    user = make_trader()
    address = deposit_address_get(user=user, currency=market.base).address
    before = ledger_state()

    resp = post_notice(
        api,
        {"currency": market.base.code, "address": address, "amount": "1000000000000000000", "txid": "t1"},
    )

    assert resp.status_code == 400, resp.content
    assert ledger_state() == before


def test_a_credit_that_would_take_a_balance_past_the_column_is_refused(api, market, make_trader):
    user = make_trader()
    fund(user, market.base, "600000000000000000")
    address = deposit_address_get(user=user, currency=market.base).address
    before = ledger_state()
    notice = {
        "currency": market.base.code,
        "address": address,
        "amount": "500000000000000000",
        "txid": "big-2",
        "confirmations": market.base.min_confirmations,
    }

    resp = post_notice(api, notice)

    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == "validation_error"
    assert ledger_state() == before


@pytest.mark.postgres
def test_postgres_really_overflows_at_ten_to_the_eighteen():
    """Why the checks above matter: the column refuses the value with a DataError (a 500)."""
    assert connection.vendor == "postgresql"
    with pytest.raises(DataError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::numeric(36, 18)", [LIMIT])
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::numeric(36, 18)", [LIMIT - Decimal("0.000000000000000001")])
        assert cursor.fetchone()[0] == LIMIT - Decimal("0.000000000000000001")
