"""Builders of real, consistent exchange state for the wallet tests.

Everything goes through the real code paths: custody deposits, the order service, the
matcher's batches and settlement, so the audit sees the state it must accept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from markets.models import Currency, Market, Order
from tests.otp import fresh_otp
from trading.services import OrderRequest, order_place
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import Deposit, Withdrawal
from wallets.withdrawals import withdrawal_request

D = Decimal
CUSTODY_URL = "/api/v1/custody/deposits"


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret if secret is not None else settings.CUSTODY_WEBHOOK_SECRET).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def post_notice(client, payload=None, *, raw: bytes | None = None, signature: str | None = None, secret=None):
    """POST a custody notice signed like the custody provider (or with the given signature)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    sig = signature if signature is not None else sign(body, secret)
    extra = {"HTTP_X_CUSTODY_SIGNATURE": sig} if sig else {}
    return client.post(CUSTODY_URL, data=body, content_type="application/json", **extra)


def deposit(user, currency: Currency, amount, txid: str | None = None) -> Deposit:
    """A confirmed custody deposit, credited through the service."""
    address = deposit_address_get(user=user, currency=currency)
    return custody_deposit_notify(
        currency_code=currency.code,
        address=address.address,
        amount=D(amount),
        txid=txid or f"tx-{user.pk}-{currency.code}-{amount}-{Deposit.objects.count()}",
        confirmations=currency.min_confirmations,
    )


def place(user, market: Market, side: str, *, type: str = Order.Type.LIMIT, **fields) -> Order:
    """Place an order through the order service (funds locked, status ``new``)."""
    money = ("price", "quantity", "quote_quantity")
    fields = {k: D(v) if k in money else v for k, v in fields.items()}
    order, _ = order_place(user_id=user.pk, market=market, order=OrderRequest(side=side, type=type, **fields))
    return order


class checks_disabled:  # used like a function
    """Let a test write a row the database CHECK constraints would refuse (to prove the audit sees it)."""

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA ignore_check_constraints = 1")
            else:
                # Rolled back with the test's transaction; deferred FK checks must fire first.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE wallets_wallet DROP CONSTRAINT wallet_locked_le_balance")
                cursor.execute("ALTER TABLE wallets_wallet DROP CONSTRAINT wallet_locked_nonnegative")
        return self

    def __exit__(self, *exc):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = 0")
        return False


def withdraw(user, currency: Currency, amount, *, address: str = "dest-address-0001") -> Withdrawal:
    """Request a withdrawal through the service, with 2FA on and a fresh TOTP code."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return withdrawal_request(user=user, currency=currency, amount=D(amount), address=address, otp=fresh_otp(user))
