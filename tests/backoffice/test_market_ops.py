"""Market halt, resume and fees (markets.services_ops)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_site.errors import DomainError
from markets.models import Market, Order
from markets.services_ops import market_halt, market_resume, market_set_fees, market_set_filters
from tests.assertions import assert_error
from tests.factories import MarketFactory, UserFactory, fund

pytestmark = pytest.mark.django_db

ORDER = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "quantity": "1"}


@pytest.fixture
def btc_usdt(db):
    return MarketFactory()


@pytest.fixture
def buyer(btc_usdt):
    user = UserFactory()
    fund(user, btc_usdt.quote, "1000")
    return user


def test_a_halted_market_refuses_new_orders_with_market_halted(btc_usdt, buyer, auth_client):
    market_halt(market_id=btc_usdt.pk)

    assert_error(auth_client(buyer).post("/api/v1/orders", ORDER, format="json"), 400, "market_halted")
    assert not Order.objects.exists()
    assert auth_client(buyer).get("/api/v1/markets/BTC-USDT").json()["status"] == "halted"


def test_halting_keeps_resting_orders_and_resume_reopens(btc_usdt, buyer, auth_client):
    client = auth_client(buyer)
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201

    market_halt(market_id=btc_usdt.pk)
    assert Order.objects.get().status in Order.OPEN_STATUSES

    market_resume(market_id=btc_usdt.pk)
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201


def test_halt_and_resume_are_idempotent(btc_usdt):
    market_halt(market_id=btc_usdt.pk)
    market_halt(market_id=btc_usdt.pk)
    assert Market.objects.get().status == "halted"
    market_resume(market_id=btc_usdt.pk)
    market_resume(market_id=btc_usdt.pk)
    assert Market.objects.get().status == "open"


def test_raised_fees_apply_at_once(btc_usdt, market_ops):
    market_set_fees(actor=market_ops, market_id=btc_usdt.pk, maker_fee=Decimal("0.0015"), taker_fee=Decimal("0.0025"))

    btc_usdt.refresh_from_db()
    assert (btc_usdt.maker_fee, btc_usdt.taker_fee) == (Decimal("0.0015"), Decimal("0.0025"))


@pytest.mark.parametrize(
    ("maker", "taker"), [("-0.001", "0.001"), ("0.001", "0.2"), ("NaN", "0.001"), ("0.001", "1.5"), ("0.001", "0.02")]
)
def test_absurd_fees_are_refused(btc_usdt, market_ops, maker, taker):
    with pytest.raises(DomainError) as exc:
        market_set_fees(actor=market_ops, market_id=btc_usdt.pk, maker_fee=Decimal(maker), taker_fee=Decimal(taker))
    assert exc.value.code == "validation_error"
    btc_usdt.refresh_from_db()
    assert (btc_usdt.maker_fee, btc_usdt.taker_fee) == (Decimal("0.001"), Decimal("0.002"))


def test_filters_apply_to_new_orders(btc_usdt, buyer, auth_client, market_ops):
    market_set_filters(actor=market_ops, market_id=btc_usdt.pk, min_qty=Decimal("2"), min_notional=Decimal("1"))

    response = auth_client(buyer).post("/api/v1/orders", ORDER, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_quantity"


def test_unknown_market_is_not_found(db):
    with pytest.raises(DomainError) as exc:
        market_halt(market_id=987654)
    assert exc.value.code == "not_found"
