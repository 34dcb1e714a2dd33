"""The demo exchange of local trials: what ``seed_demo`` creates and what it reports.

Local trials only: the demo accounts have published passwords and the traders' balances
are backed by nothing. ``demo_allowed`` is the gate both demo commands share: the
embedded default (no ``DATABASE_URL``) or ``DEBUG=1``, never a deployment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.selectors import two_factor_enabled
from accounts.services import two_factor_confirm, two_factor_setup
from exchange_site.money import fmt
from markets.models import Currency, Market
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import Wallet

D = Decimal

CURRENCIES: dict[str, dict[str, Any]] = {
    "BTC": dict(
        name="Bitcoin",
        precision=8,
        withdrawal_fee=D("0.0005"),
        min_withdrawal=D("0.001"),
        dual_approval_threshold=D("1"),
        min_confirmations=2,
    ),
    "ETH": dict(
        name="Ether",
        precision=8,
        withdrawal_fee=D("0.005"),
        min_withdrawal=D("0.01"),
        dual_approval_threshold=D("20"),
        min_confirmations=12,
    ),
    "USDT": dict(
        name="Tether USD",
        precision=6,
        withdrawal_fee=D("1"),
        min_withdrawal=D("10"),
        dual_approval_threshold=D("50000"),
        min_confirmations=12,
    ),
}
MARKETS = {
    "BTC-USDT": dict(tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5")),
    "ETH-USDT": dict(tick_size=D("0.01"), lot_size=D("0.0001"), min_qty=D("0.0001"), min_notional=D("5")),
}
MAKER_FEE = D("0.001")
TAKER_FEE = D("0.002")
TRADERS = {"alice": "alice@demo.exchange", "bob": "bob@demo.exchange"}
TRADER_PASSWORD = "demo-password-123"
FUNDING = {"BTC": D("10"), "ETH": D("100"), "USDT": D("1000000")}
ADMIN_EMAIL = "admin@demo.exchange"
ADMIN_PASSWORD = "admin-password-123"
DEMO_EMAILS = (*TRADERS.values(), ADMIN_EMAIL)


def demo_allowed() -> bool:
    """Demo accounts only where nobody real can be: the embedded default or DEBUG."""
    return bool(settings.EMBEDDED or settings.DEBUG)


def currencies_ensure() -> dict[str, Currency]:
    return {code: Currency.objects.get_or_create(code=code, defaults=spec)[0] for code, spec in CURRENCIES.items()}


def markets_ensure(currencies: dict[str, Currency]) -> None:
    for symbol, spec in MARKETS.items():
        base, quote = symbol.split("-")
        Market.objects.get_or_create(
            symbol=symbol,
            defaults=dict(
                base=currencies[base],
                quote=currencies[quote],
                maker_fee=MAKER_FEE,
                taker_fee=TAKER_FEE,
                status=Market.Status.OPEN,
                **spec,
            ),
        )


def user_ensure(email: str, password: str, *, superuser: bool = False) -> tuple[User, bool]:
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    if superuser:
        return User.objects.create_superuser(email, password), True
    return User.objects.create_user(email, password), True


def fund_once(user: User, currency: Currency, amount: Decimal, *, txid: str) -> None:
    """Fund as custody would: one confirmed deposit per txid, credited once however often this runs."""
    address = deposit_address_get(user=user, currency=currency)
    custody_deposit_notify(
        currency_code=currency.code,
        address=address.address,
        amount=amount,
        txid=txid,
        confirmations=currency.min_confirmations,
    )


def _code_at(device: TOTPDevice, step: int) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = device.t0 + step * device.step
    return f"{totp.token():0{device.digits}d}"


def two_factor_enable(user: User) -> None:
    """Turn 2FA on through the account services, as a user confirming an authenticator would."""
    two_factor_setup(user=user)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    two_factor_confirm(user=user, otp=_code_at(device, int((time.time() - device.t0) // device.step)))


@dataclass(frozen=True)
class CurrentCode:
    code: str
    valid_from: float
    valid_until: float


def current_code(user: User) -> CurrentCode | None:
    """The code the user's authenticator shows now, or the next one if this step's code was used.

    django-otp accepts each time step once (and one step either side), so right after a
    login the code of the following step is the one that works.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return None
    step = max(int((time.time() - device.t0) // device.step), device.last_t + 1)
    start = device.t0 + step * device.step
    return CurrentCode(_code_at(device, step), start, start + device.step)


def balances_of(user: User) -> str:
    """The user's wallets now, e.g. ``BTC 9.5 (0.2 locked), USDT 1000000``."""
    rows = (
        Wallet.objects.filter(user=user)
        .annotate(code=F("currency__code"))
        .order_by("currency__code")
        .values_list("code", "balance", "locked")
    )
    parts = [
        f"{code} {fmt(balance)}" + (f" ({fmt(locked)} locked)" if locked else "") for code, balance, locked in rows
    ]
    return ", ".join(parts) or "no funds"


def two_factor_state(user: User) -> str:
    return "2FA on" if two_factor_enabled(user=user) else "2FA off"
