"""Helpers of the trading tests: orders over the API, balances."""

from __future__ import annotations

from decimal import Decimal

from wallets.models import Wallet


def post_order(client, **body):
    """POST an order (market BTC-USDT unless given) and return the response."""
    body.setdefault("market", "BTC-USDT")
    return client.post("/api/v1/orders", body, format="json")


def place(client, **body) -> dict:
    """POST an order that must be accepted; return its JSON."""
    response = post_order(client, **body)
    assert response.status_code == 201, response.content
    return response.json()


def balance(user, currency) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    if wallet is None:
        return Decimal(0), Decimal(0)
    return wallet.balance, wallet.locked
