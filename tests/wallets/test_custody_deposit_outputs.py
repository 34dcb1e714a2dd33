"""Custody notices are keyed by (currency, txid, output_index): one transaction, several deposits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import Currency
from tests.factories import CurrencyFactory, UserFactory
from wallets.deposits import deposit_address_get
from wallets.models import Deposit, LedgerEntry, Wallet

from .helpers import post_notice

D = Decimal


@pytest.fixture
def btc(db) -> Currency:
    return CurrencyFactory(code="BTC", name="Bitcoin", min_confirmations=1)


@pytest.fixture
def alice(db):
    return UserFactory()


@pytest.fixture
def bob(db):
    return UserFactory()


def _notice(user, currency, *, amount: str, output_index=None) -> dict:
    body = {
        "currency": currency.code,
        "address": deposit_address_get(user=user, currency=currency).address,
        "amount": amount,
        "txid": "batch-payout-1",
        "confirmations": 3,
    }
    if output_index is not None:
        body["output_index"] = output_index
    return body


def _balance(user, currency) -> Decimal:
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    return wallet.balance if wallet else D(0)


def test_two_outputs_of_one_transaction_credit_two_deposits(api, btc, alice, bob):
    first = post_notice(api, _notice(alice, btc, amount="0.5", output_index=0))
    second = post_notice(api, _notice(bob, btc, amount="0.25", output_index=1))

    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    assert first.json()["status"] == second.json()["status"] == "credited"
    assert (first.json()["output_index"], second.json()["output_index"]) == (0, 1)
    assert Deposit.objects.filter(txid="batch-payout-1").count() == 2
    assert LedgerEntry.objects.filter(kind="deposit").count() == 2
    assert _balance(alice, btc) == D("0.5")
    assert _balance(bob, btc) == D("0.25")


def test_two_outputs_to_the_same_address_credit_twice(api, btc, alice):
    post_notice(api, _notice(alice, btc, amount="0.5", output_index=0))
    response = post_notice(api, _notice(alice, btc, amount="0.5", output_index=3))

    assert response.status_code == 200
    assert _balance(alice, btc) == D("1.0")


def test_replayed_outputs_change_nothing(api, btc, alice, bob):
    notices = [_notice(alice, btc, amount="0.5", output_index=0), _notice(bob, btc, amount="0.25", output_index=1)]
    for notice in notices:
        post_notice(api, notice)
    before = list(Deposit.objects.order_by("pk").values_list("pk", "status", "confirmations"))

    for _ in range(2):
        for notice in notices:
            assert post_notice(api, notice).status_code == 200

    assert list(Deposit.objects.order_by("pk").values_list("pk", "status", "confirmations")) == before
    assert LedgerEntry.objects.count() == 2
    assert (_balance(alice, btc), _balance(bob, btc)) == (D("0.5"), D("0.25"))


def test_output_index_defaults_to_zero(api, btc, alice):
    without = post_notice(api, _notice(alice, btc, amount="0.5"))
    explicit = post_notice(api, _notice(alice, btc, amount="0.5", output_index=0))

    assert without.json()["output_index"] == 0
    assert explicit.json()["id"] == without.json()["id"]
    assert _balance(alice, btc) == D("0.5")


def test_known_output_with_another_amount_is_a_conflict(api, btc, alice):
    post_notice(api, _notice(alice, btc, amount="0.5", output_index=2))

    response = post_notice(api, _notice(alice, btc, amount="0.6", output_index=2))

    assert response.status_code == 409
    assert response.json()["error"]["details"]["output_index"] == 2
    assert _balance(alice, btc) == D("0.5")


@pytest.mark.parametrize(
    "output_index",
    [-1, 10**6 + 1, 2**31, 10**30, 1.5, "1", "abc", True, [0], {"i": 0}],
    ids=["negative", "above-max", "int32-overflow", "huge", "float", "string", "text", "bool", "list", "obj"],
)
def test_invalid_output_index_is_refused(api, btc, alice, output_index):
    response = post_notice(api, _notice(alice, btc, amount="0.5", output_index=output_index))

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not Deposit.objects.exists()
