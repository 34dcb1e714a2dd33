"""Error details carry decimals in plain notation, normalized like every other field, and codes, not ids."""

from decimal import Decimal as D

import pytest

from tests.backoffice.helpers import make_trader as make_2fa_trader
from tests.backoffice.helpers import request_withdrawal
from tests.factories import fund
from wallets.incidents import WithdrawalsHeld
from wallets.models import Incident
from wallets.services import InsufficientFunds

pytestmark = pytest.mark.django_db


def place(client, **body):
    body.setdefault("market", "BTC-USDT")
    return client.post("/api/v1/orders", body, format="json")


def _error(resp) -> dict:
    assert resp.status_code == 400, resp.content
    return resp.json()["error"]


@pytest.mark.parametrize(("funded", "shown"), [("9.25", "9.25"), ("1009490", "1009490"), ("0.000001", "0.000001")])
def test_insufficient_funds_shows_the_available_amount_and_the_currency_code(
    market, make_trader, auth_client, funded, shown
):
    trader = make_trader()
    fund(trader, market.quote, funded)
    error = _error(place(auth_client(trader), side="buy", type="limit", price="2000000", quantity="1"))
    assert error["code"] == "insufficient_funds"
    assert error["details"] == {"currency": "USDT", "available": shown}


def test_a_wallet_spent_to_zero_shows_0_not_scientific_notation(market, make_trader, auth_client):
    trader = make_trader()
    fund(trader, market.quote, "100")
    client = auth_client(trader)
    assert place(client, side="buy", type="limit", price="100", quantity="1").status_code == 201
    for body in (
        {"side": "buy", "type": "limit", "price": "100", "quantity": "1"},
        {"side": "buy", "type": "market", "quantity": "1"},
    ):
        error = _error(place(client, **body))
        assert error["details"] == {"currency": "USDT", "available": "0"}


def test_a_seller_without_base_sees_the_base_currency(market, make_trader, auth_client):
    error = _error(place(auth_client(make_trader()), side="sell", type="limit", price="100", quantity="1"))
    assert error["details"] == {"currency": "BTC", "available": "0"}


def test_size_rule_details_are_plain_and_normalized(market, make_trader, auth_client):
    market.lot_size = D("0.000010000000000000")
    market.save()
    client = auth_client(make_trader())
    assert _error(place(client, side="buy", type="limit", price="100.001", quantity="1"))["details"] == {
        "tick_size": "0.01"
    }
    assert _error(place(client, side="buy", type="limit", price="100", quantity="0.000011"))["details"] == {
        "lot_size": "0.00001"
    }


def test_withdrawal_refusals_name_the_currency_and_show_plain_amounts(market):
    btc = market.base
    trader = make_2fa_trader(btc, "0.5")
    with pytest.raises(InsufficientFunds) as refused:
        request_withdrawal(trader, btc, "1")
    assert refused.value.details == {"currency": "BTC", "available": "0.5"}
    Incident.objects.create(currency=btc, summary="test breach")
    with pytest.raises(WithdrawalsHeld) as held:
        request_withdrawal(trader, btc, "0.1")
    assert held.value.details == {"currency": "BTC"}
