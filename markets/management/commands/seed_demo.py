"""Create demo currencies, markets, funded traders and a staff user; safe to run again.

Local trials only: the staff user has a published password and no 2FA, and the traders'
balances are backed by nothing. It refuses to run on a deployment (``DATABASE_URL`` set
and DEBUG off); production is set up with ``bootstrap_exchange``.

Only what is missing is created, and traders are funded through the custody deposit
service with fixed txids, so a second run changes nothing and ``audit_ledger`` passes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.selectors import fee_account
from exchange_site.errors import DomainError
from markets.models import Currency, Market
from wallets.deposits import custody_deposit_notify, deposit_address_get

D = Decimal

CURRENCIES = {
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
BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Seed demo currencies, markets, two funded traders and a staff superuser (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.EMBEDDED or settings.DEBUG):
            raise CommandError(
                "seed_demo creates a superuser with a published password and traders with unbacked balances; "
                "it runs only on the embedded default (no DATABASE_URL) or with DEBUG=1. "
                "Set up a deployment with: python manage.py bootstrap_exchange --spec FILE --admin-email EMAIL"
            )
        currencies = {code: _currency(code, spec) for code, spec in CURRENCIES.items()}
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
        fees = fee_account()
        for name, email in TRADERS.items():
            user = _user(email, TRADER_PASSWORD)
            for code, amount in FUNDING.items():
                _fund(user, currencies[code], amount, txid=f"seed-{name}-{code}")
        if not User.objects.filter(email=ADMIN_EMAIL).exists():
            User.objects.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)

        funding = ", ".join(f"{amount} {code}" for code, amount in FUNDING.items())
        self.stdout.write(
            "\n".join(
                [
                    "Demo data ready.",
                    f"  currencies:   {', '.join(CURRENCIES)}",
                    f"  markets:      {', '.join(MARKETS)} (maker fee {MAKER_FEE}, taker fee {TAKER_FEE})",
                    f"  fee account:  {fees.email}",
                    f"  traders:      {', '.join(TRADERS.values())} (password {TRADER_PASSWORD}), "
                    f"each funded with {funding}",
                    f"  staff:        {ADMIN_EMAIL} (password {ADMIN_PASSWORD}, superuser, 2FA not set up)",
                    "",
                    "Get an API token:",
                    f"  curl -s -X POST {BASE_URL}/api/v1/auth/token -H 'Content-Type: application/json' \\",
                    f'       -d \'{{"email": "{TRADERS["alice"]}", "password": "{TRADER_PASSWORD}"}}\'',
                    "  then send 'Authorization: Bearer <access>', e.g.",
                    f"  curl -s {BASE_URL}/api/v1/balances -H 'Authorization: Bearer <access>'",
                    "",
                    f"Admin: {BASE_URL}/admin/ as {ADMIN_EMAIL} / {ADMIN_PASSWORD}",
                    "  The admin asks for a one-time password: turn 2FA on first (get a token with the admin's",
                    "  credentials, then POST /api/v1/auth/2fa/setup and /api/v1/auth/2fa/confirm), or start the",
                    "  server with ADMIN_REQUIRE_OTP=0 for a local trial.",
                ]
            )
        )


def _currency(code: str, spec: dict[str, Any]) -> Currency:
    currency, _ = Currency.objects.get_or_create(code=code, defaults=spec)
    return currency


def _user(email: str, password: str) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, password)


def _fund(user: User, currency: Currency, amount: Decimal, *, txid: str) -> None:
    """Fund as custody would: one confirmed deposit per txid, credited once however often this runs."""
    try:
        address = deposit_address_get(user=user, currency=currency)
        custody_deposit_notify(
            currency_code=currency.code,
            address=address.address,
            amount=amount,
            txid=txid,
            confirmations=currency.min_confirmations,
        )
    except DomainError as exc:
        raise CommandError(f"could not fund {user.email} with {amount} {currency.code}: {exc.message}") from exc
