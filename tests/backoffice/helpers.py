"""Helpers for the back-office tests: 2FA codes, staff with roles, funded traders, withdrawals."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import Group

from accounts.roles import roles_sync
from markets.models import Currency
from tests.factories import PASSWORD, UserFactory, fund
from tests.otp import enable_2fa, fresh_otp
from wallets.models import LedgerEntry, Wallet, Withdrawal
from wallets.withdrawals import withdrawal_request

__all__ = ["PASSWORD", "enable_2fa", "fresh_otp"]


def role_group(role: str) -> Group:
    """The role's group; re-created after a transactional test flushed the migration's rows."""
    group = Group.objects.filter(name=role).first()
    if group is None:
        roles_sync()
        group = Group.objects.get(name=role)
    return group


def make_staff(*roles: str, two_factor: bool = True, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    for role in roles:
        user.groups.add(role_group(role))
    if two_factor:
        enable_2fa(user)
    return user


def make_trader(currency: Currency, amount: str = "10", *, two_factor: bool = True):
    user = UserFactory()
    if two_factor:
        enable_2fa(user)
    if Decimal(amount):
        fund(user, currency, amount)
    return user


def request_withdrawal(user, currency: Currency, amount: str, address: str = "bc1qexampleaddress0001") -> Withdrawal:
    return withdrawal_request(
        user=user, currency=currency, amount=Decimal(amount), address=address, otp=fresh_otp(user)
    )


def wallet_of(user, currency: Currency) -> Wallet:
    return Wallet.objects.get(user=user, currency=currency)


def balance(user, currency: Currency) -> tuple[Decimal, Decimal]:
    """(balance, locked) of the user's wallet, zeros when it does not exist."""
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    return (wallet.balance, wallet.locked) if wallet else (Decimal(0), Decimal(0))


def ledger_kinds(user, currency: Currency) -> list[tuple[str, Decimal, Decimal]]:
    return list(
        LedgerEntry.objects.filter(user=user, currency=currency)
        .order_by("id")
        .values_list("kind", "amount", "locked_change")
    )


def admin_login(client, user, *, otp: str | None = None):
    """Log in to the admin the way staff do: password and a one-time password."""
    data = {"username": user.email, "password": PASSWORD, "next": "/admin/"}
    data["otp_token"] = otp if otp is not None else fresh_otp(user)
    return client.post("/admin/login/", data)


def currency_form(currency: Currency, **changes: str) -> dict[str, str]:
    """The currency change form as the admin posts it, with ``changes`` applied (empty: unchecked)."""
    data = {
        "name": currency.name,
        "withdrawal_fee": str(currency.withdrawal_fee),
        "min_withdrawal": str(currency.min_withdrawal),
        "dual_approval_threshold": str(currency.dual_approval_threshold),
        "min_confirmations": str(currency.min_confirmations),
        "deposits_enabled": "on" if currency.deposits_enabled else "",
        "withdrawals_enabled": "on" if currency.withdrawals_enabled else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}
