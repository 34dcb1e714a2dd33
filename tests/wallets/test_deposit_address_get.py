"""GET /api/v1/deposits/address: one stable address per user and currency."""

from __future__ import annotations

import pytest

from markets.models import Currency
from tests.concurrency import race
from tests.factories import CurrencyFactory, UserFactory
from wallets.deposits import deposit_address_get
from wallets.models import DepositAddress

URL = "/api/v1/deposits/address"


@pytest.fixture
def btc(db):
    return CurrencyFactory(code="BTC")


def test_address_is_created_on_first_ask_and_stable_afterwards(auth_client, btc):
    user = UserFactory()
    client = auth_client(user)

    first = client.get(URL, {"currency": "BTC"})
    second = client.get(URL, {"currency": "BTC"})

    assert first.status_code == 200
    assert first.json()["currency"] == "BTC"
    assert first.json() == second.json()
    assert DepositAddress.objects.get().user == user


def test_currency_code_is_case_insensitive(auth_client, btc):
    client = auth_client(UserFactory())

    assert client.get(URL, {"currency": "btc"}).json() == client.get(URL, {"currency": "BTC"}).json()


def test_each_user_and_currency_gets_its_own_address(auth_client, btc):
    CurrencyFactory(code="ETH")
    alice, bob = UserFactory(), UserFactory()

    addresses = {
        auth_client(alice).get(URL, {"currency": "BTC"}).json()["address"],
        auth_client(alice).get(URL, {"currency": "ETH"}).json()["address"],
        auth_client(bob).get(URL, {"currency": "BTC"}).json()["address"],
    }

    assert len(addresses) == 3


@pytest.mark.parametrize("params", [{}, {"currency": ""}, {"currency": "DOGE"}, {"currency": "X" * 300}])
def test_missing_or_unknown_currency_is_400(auth_client, btc, params):
    response = auth_client(UserFactory()).get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not DepositAddress.objects.exists()


def test_disabled_deposits_give_400(auth_client, btc):
    Currency.objects.filter(pk=btc.pk).update(deposits_enabled=False)

    response = auth_client(UserFactory()).get(URL, {"currency": "BTC"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "deposits_disabled"


def test_requires_authentication(api, btc):
    response = api.get(URL, {"currency": "BTC"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_asks_get_the_same_address():
    btc = CurrencyFactory(code="BTC")
    user = UserFactory()
    results = race(*[lambda: deposit_address_get(user=user, currency=btc).address] * 4)

    assert len(set(results)) == 1, results
    assert DepositAddress.objects.count() == 1
