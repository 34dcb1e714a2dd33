"""Builders of the security tests' small exchange: actors with real tokens and their objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rest_framework.test import APIClient

from markets.models import Currency, Market, Order
from tests.backoffice.helpers import enable_2fa, fresh_otp
from tests.factories import PASSWORD, UserFactory, fund
from trading.services import OrderRequest, order_place
from wallets.models import Withdrawal
from wallets.withdrawals import withdrawal_request


@dataclass
class Actor:
    """A user with a real access and refresh token from ``POST /api/v1/auth/token``."""

    user: object
    access: str
    refresh: str
    orders: list[Order] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.access}")
        return client


@dataclass
class World:
    market: Market
    btc: Currency
    usdt: Currency
    trader: Actor
    other: Actor
    officer: Actor
    compliance: Actor
    market_ops: Actor
    plain_staff: Actor
    newcomer: Actor
    trader_btc_address: str


def login(user) -> Actor:
    """Log in through the token endpoint, with a fresh one-time password when 2FA is on."""
    payload = {"email": user.email, "password": PASSWORD}
    if user.totpdevice_set.filter(confirmed=True).exists():
        payload["otp"] = fresh_otp(user)
    response = APIClient().post("/api/v1/auth/token", payload, format="json")
    assert response.status_code == 200, response.content
    return Actor(user=user, access=response.json()["access"], refresh=response.json()["refresh"])


def place(user, market: Market, side: str, price: str, quantity: str, client_order_id: str | None = None) -> Order:
    order, _ = order_place(
        user_id=user.pk,
        market=market,
        order=OrderRequest(
            side=side,
            type=Order.Type.LIMIT,
            price=Decimal(price),
            quantity=Decimal(quantity),
            quote_quantity=None,
            time_in_force=Order.TimeInForce.GTC,
            post_only=False,
            client_order_id=client_order_id,
            self_trade_prevention=Order.SelfTradePrevention.CANCEL_TAKER,
        ),
    )
    return order


def withdraw(user, currency: Currency, amount: str, address: str) -> Withdrawal:
    return withdrawal_request(
        user=user, currency=currency, amount=Decimal(amount), address=address, otp=fresh_otp(user)
    )


def funded_trader(market: Market, tag: str):
    user = UserFactory(email=f"{tag}@example.com")
    enable_2fa(user)
    fund(user, market.base, "10", reference=f"{tag}-btc-deposit")
    fund(user, market.quote, "100000", reference=f"{tag}-usdt-deposit")
    return user
