"""Helpers for the back-office tests: 2FA codes, staff with roles, funded traders, withdrawals."""

from __future__ import annotations

import time
from decimal import Decimal

from django.contrib.auth.models import Group
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import roles_sync
from accounts.services import two_factor_confirm, two_factor_setup
from markets.models import Currency
from tests.factories import PASSWORD, UserFactory, fund
from wallets.models import LedgerEntry, Wallet, Withdrawal
from wallets.withdrawals import withdrawal_request

__all__ = ["PASSWORD"]


def _code(device: TOTPDevice, steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def enable_2fa(user) -> None:
    """Switch 2FA on through the services (the confirming code is one step old)."""
    two_factor_setup(user=user)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    # A code one step old is accepted only until the next step starts: don't straddle it.
    left = device.step - (time.time() - device.t0) % device.step
    if left < 2:
        time.sleep(left + 0.05)
    two_factor_confirm(user=user, otp=_code(device, steps=-1))


def fresh_otp(user) -> str:
    """A code the user's authenticator shows now, usable even if one of this step was used.

    django-otp accepts a time step once; the tests take more than one per 30 s, so they
    forget the last used step (and any throttling) instead of sleeping.
    """
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    device.last_t = -1
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save(update_fields=["last_t", "throttling_failure_count", "throttling_failure_timestamp"])
    return _code(device)


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
