"""The custody webhook: signed, idempotent by (currency, txid), credits exactly once."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from markets.models import Currency
from tests.concurrency import race
from tests.factories import CurrencyFactory, UserFactory
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import Deposit, LedgerEntry, Wallet

from .helpers import post_notice, sign

D = Decimal


@pytest.fixture
def btc(db) -> Currency:
    return CurrencyFactory(code="BTC", name="Bitcoin", min_confirmations=2)


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def address(owner, btc) -> str:
    return deposit_address_get(user=owner, currency=btc).address


@pytest.fixture
def notice(address):
    return {"currency": "BTC", "address": address, "amount": "0.5", "txid": "abc123", "confirmations": 0}


def balance(user, currency) -> Decimal:
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    return wallet.balance if wallet else D(0)


def nothing_written() -> bool:
    return not Deposit.objects.exists() and not LedgerEntry.objects.exists() and not Wallet.objects.exists()


def test_missing_signature_is_refused_and_nothing_is_written(api, notice):
    notice["confirmations"] = 6

    response = post_notice(api, notice, signature="")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert nothing_written()


@pytest.mark.parametrize(
    "signature",
    [sign(b"{}", "wrong-secret"), "zz", "0" * 64, "é" * 64],
    ids=["other-secret", "not-hex", "zeros", "non-ascii"],
)
def test_bad_signature_is_refused_and_nothing_is_written(api, notice, signature):
    notice["confirmations"] = 6

    response = post_notice(api, notice, signature=signature)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert nothing_written()


def test_signature_of_another_body_is_refused(api, notice):
    notice["confirmations"] = 6
    signed = json.dumps(notice).encode()
    tampered = json.dumps({**notice, "amount": "500"}).encode()

    response = post_notice(api, raw=tampered, signature=sign(signed))

    assert response.status_code == 401
    assert nothing_written()


def test_signature_is_checked_before_the_body_is_parsed(api):
    response = post_notice(api, raw=b"not json", signature="00")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


def test_uppercase_hex_signature_is_accepted(api, notice):
    body = json.dumps(notice).encode()

    response = post_notice(api, raw=body, signature=sign(body).upper())

    assert response.status_code == 200


def test_first_notice_records_a_pending_deposit_without_credit(api, notice, owner, btc):
    notice["confirmations"] = 1

    response = post_notice(api, notice)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending"
    assert body["confirmations"] == 1
    assert body["amount"] == "0.5"
    assert body["currency"] == "BTC"
    assert body["txid"] == "abc123"
    deposit = Deposit.objects.get()
    assert deposit.user == owner
    assert body["id"] == deposit.pk
    assert not LedgerEntry.objects.exists()
    assert balance(owner, btc) == 0


def test_credits_once_when_confirmations_reach_the_minimum(api, notice, owner, btc):
    post_notice(api, {**notice, "confirmations": 1})

    response = post_notice(api, {**notice, "confirmations": 2})

    assert response.status_code == 200
    assert response.json()["status"] == "credited"
    deposit = Deposit.objects.get()
    assert deposit.credited_at is not None
    entry = LedgerEntry.objects.get()
    assert entry.kind == "deposit"
    assert entry.reference == f"deposit:{deposit.pk}"
    assert entry.amount == D("0.5")
    assert entry.user == owner
    assert balance(owner, btc) == D("0.5")


def test_replayed_and_later_notices_do_not_credit_again(api, notice, owner, btc):
    confirmed = {**notice, "confirmations": 2}
    for _ in range(3):
        assert post_notice(api, confirmed).status_code == 200

    response = post_notice(api, {**notice, "confirmations": 30})

    assert response.json()["confirmations"] == 30
    assert Deposit.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert balance(owner, btc) == D("0.5")


def test_confirmations_never_go_backwards(api, notice):
    post_notice(api, {**notice, "confirmations": 1})

    response = post_notice(api, {**notice, "confirmations": 0})

    assert response.json()["confirmations"] == 1


def test_notice_already_confirmed_on_arrival_credits_immediately(api, notice, owner, btc):
    response = post_notice(api, {**notice, "confirmations": 6})

    assert response.json()["status"] == "credited"
    assert balance(owner, btc) == D("0.5")


def test_same_amount_written_differently_is_the_same_deposit(api, notice, owner, btc):
    post_notice(api, {**notice, "amount": "0.5", "confirmations": 1})

    response = post_notice(api, {**notice, "amount": "0.50000", "confirmations": 2})

    assert response.status_code == 200
    assert balance(owner, btc) == D("0.5")


def test_known_txid_with_another_amount_is_a_conflict(api, notice, owner, btc):
    post_notice(api, {**notice, "confirmations": 2})

    response = post_notice(api, {**notice, "amount": "5", "confirmations": 3})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    deposit = Deposit.objects.get()
    assert deposit.amount == D("0.5")
    assert deposit.confirmations == 2
    assert balance(owner, btc) == D("0.5")


def test_known_txid_with_another_address_is_a_conflict(api, notice, btc):
    other = deposit_address_get(user=UserFactory(), currency=btc).address
    post_notice(api, notice)

    response = post_notice(api, {**notice, "address": other, "confirmations": 2})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert not LedgerEntry.objects.exists()


def test_same_txid_in_another_currency_is_another_deposit(api, notice, owner, btc):
    eth = CurrencyFactory(code="ETH", min_confirmations=1)
    eth_address = deposit_address_get(user=owner, currency=eth).address
    post_notice(api, {**notice, "confirmations": 2})

    response = post_notice(api, {**notice, "currency": "ETH", "address": eth_address, "confirmations": 1})

    assert response.status_code == 200
    assert Deposit.objects.count() == 2
    assert balance(owner, eth) == D("0.5")


def test_unknown_address_is_refused(api, notice):
    response = post_notice(api, {**notice, "address": "bc1-nobody"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_address"
    assert not Deposit.objects.exists()


def test_address_of_another_currency_is_unknown(api, notice, owner):
    eth = CurrencyFactory(code="ETH")
    eth_address = deposit_address_get(user=owner, currency=eth).address

    response = post_notice(api, {**notice, "address": eth_address})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_address"


def test_disabled_deposits_are_refused(api, notice, btc):
    Currency.objects.filter(pk=btc.pk).update(deposits_enabled=False)

    response = post_notice(api, {**notice, "confirmations": 5})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "deposits_disabled"
    assert not Deposit.objects.exists()


def test_unknown_currency_is_refused(api, notice):
    response = post_notice(api, {**notice, "currency": "DOGE"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"{", b'{"currency": "BTC"}'],
    ids=["empty", "not-json", "list", "string", "null", "truncated", "missing-fields"],
)
def test_malformed_signed_bodies_are_4xx(api, raw, notice):
    response = post_notice(api, raw=raw)

    assert 400 <= response.status_code < 500
    assert "error" in response.json()
    assert not Deposit.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "-1"},
        {"amount": "0"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "1e999"},
        {"amount": "0.0000000000000000001"},
        {"amount": "abc"},
        {"amount": None},
        {"amount": True},
        {"amount": {"x": 1}},
        {"confirmations": -1},
        {"confirmations": "many"},
        {"confirmations": 10**12},
        {"confirmations": 1.5},
        {"txid": ""},
        {"txid": "x" * 129},
        {"address": ""},
        {"address": "a" * 129},
        {"currency": ""},
        {"currency": "X" * 50},
        {"currency": 5},
        {"currency": ["BTC"]},
    ],
)
def test_invalid_fields_are_refused_with_validation_error(api, notice, change):
    response = post_notice(api, {**notice, **change})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not Deposit.objects.exists()


def test_wrong_method_and_content_type_are_4xx(api, notice):
    body = json.dumps(notice).encode()
    assert api.get("/api/v1/custody/deposits").status_code == 405
    response = api.post(
        "/api/v1/custody/deposits", data=body, content_type="text/plain", HTTP_X_CUSTODY_SIGNATURE=sign(body)
    )
    assert response.status_code == 415


def test_a_jwt_is_neither_needed_nor_enough(auth_client, notice, owner):
    response = post_notice(auth_client(owner), notice, signature="00")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_notices_credit_once():
    btc = CurrencyFactory(code="BTC", min_confirmations=1)
    owner = UserFactory()
    address = deposit_address_get(user=owner, currency=btc).address

    def notify() -> int:
        return custody_deposit_notify(
            currency_code="BTC", address=address, amount=D("1.25"), txid="dup", confirmations=3
        ).pk

    results = race(*[notify] * 4)

    assert len(set(results)) == 1, results
    assert Deposit.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="deposit").count() == 1
    assert Wallet.objects.get(user=owner, currency=btc).balance == D("1.25")
