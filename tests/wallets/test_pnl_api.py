"""GET /api/v1/pnl: my realized PnL per market, never anyone else's; hostile filters get a clear 400."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import CurrencyFactory, MarketFactory, UserFactory
from wallets.models import TraderPnl

URL = "/api/v1/pnl"
FIELDS = {"market", "quote", "realized_pnl", "fees_paid_quote", "position", "average_cost", "updated_at"}


@pytest.fixture
def rows(db):
    btc = MarketFactory()
    eth = MarketFactory(base=CurrencyFactory(code="ETH", name="Ether"), quote=btc.quote, symbol="ETH-USDT")
    me, other = UserFactory(), UserFactory()
    now = timezone.now()
    mine = [
        TraderPnl.objects.create(
            user=me,
            market=btc,
            position=Decimal("0.996"),
            cost_basis=Decimal("99.799599198396793587"),
            average_cost=Decimal("100.200400801603206413"),
            realized_pnl=Decimal("29.669599198396793587"),
            fees_paid_quote=Decimal("0.53"),
            updated_at=now,
        ),
        TraderPnl.objects.create(user=me, market=eth, realized_pnl=Decimal("-1.5"), updated_at=now),
    ]
    TraderPnl.objects.create(user=other, market=btc, realized_pnl=Decimal("1000"), updated_at=now)
    return me, other, mine


def test_lists_my_markets_with_exact_figures(rows, auth_client):
    me, _, _ = rows
    response = auth_client(me).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [r["market"] for r in body] == ["BTC-USDT", "ETH-USDT"]
    assert set(body[0]) == FIELDS
    assert body[0]["quote"] == "USDT"
    assert body[0]["realized_pnl"] == "29.669599198396793587"
    assert body[0]["average_cost"] == "100.200400801603206413"
    assert body[0]["position"] == "0.996"
    assert body[0]["fees_paid_quote"] == "0.53"
    assert body[1]["realized_pnl"] == "-1.5"


def test_market_filter(rows, auth_client):
    me, _, _ = rows
    body = auth_client(me).get(URL, {"market": "ETH-USDT"}).json()
    assert [r["market"] for r in body] == ["ETH-USDT"]


def test_never_shows_another_traders_rows(rows, auth_client):
    _, other, _ = rows
    body = auth_client(other).get(URL).json()
    assert [(r["market"], r["realized_pnl"]) for r in body] == [("BTC-USDT", "1000")]


def test_a_trader_who_never_traded_gets_an_empty_list(rows, auth_client):
    assert auth_client(UserFactory()).get(URL).json() == []


@pytest.mark.parametrize("market", ["NOPE-USDT", "btc-usdt", "BTC-USDT\x00", "x" * 65, "' OR 1=1 --", "%00", "\u202e"])
def test_unknown_or_malformed_market_is_a_validation_error(rows, auth_client, market):
    me, _, _ = rows
    response = auth_client(me).get(URL, {"market": market})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_needs_a_login(rows, api):
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_read_only(rows, auth_client):
    me, _, _ = rows
    client = auth_client(me)
    for method in (client.post, client.put, client.delete):
        assert method(URL, {}, format="json").status_code == 405
