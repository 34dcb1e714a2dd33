"""Create demo currencies, markets, funded traders and a staff user; safe to run again.

Local trials only (``tools/demo.py``): it refuses to run on a deployment
(``DATABASE_URL`` set and DEBUG off); production is set up with ``bootstrap_exchange``.

Only what is missing is created, and traders are funded through the custody deposit
service with fixed txids, so a second run changes nothing and ``audit_ledger`` passes.
What it prints is read back from the database: balances and 2FA state as they are now.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import fee_account
from exchange_site.errors import DomainError
from tools import demo

BASE_URL = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"


class Command(BaseCommand):
    help = "Seed demo currencies, markets, two funded traders and a staff superuser (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo.demo_allowed():
            raise CommandError(
                "seed_demo creates a superuser with a published password and traders with unbacked balances; "
                "it runs only on the embedded default (no DATABASE_URL) or with DEBUG=1. "
                "Set up a deployment with: python manage.py bootstrap_exchange --spec FILE --admin-email EMAIL"
            )
        currencies = demo.currencies_ensure()
        demo.markets_ensure(currencies)
        fees = fee_account()
        traders = []
        for name, email in demo.TRADERS.items():
            user, _ = demo.user_ensure(email, demo.TRADER_PASSWORD)
            for code, amount in demo.FUNDING.items():
                try:
                    demo.fund_once(user, currencies[code], amount, txid=f"seed-{name}-{code}")
                except DomainError as exc:
                    raise CommandError(f"could not fund {email} with {amount} {code}: {exc.message}") from exc
            traders.append(user)
        admin, created = demo.user_ensure(demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD, superuser=True)
        if created:
            demo.two_factor_enable(admin)
        self.stdout.write("\n".join(self._report(fees.email, traders, admin)))

    def _report(self, fee_email: str, traders: list, admin: Any) -> list[str]:
        lines = [
            "Demo data ready (as it is now in the database).",
            f"  currencies:   {', '.join(demo.CURRENCIES)}",
            f"  markets:      {', '.join(demo.MARKETS)} (maker fee {demo.MAKER_FEE}, taker fee {demo.TAKER_FEE})",
            f"  fee account:  {fee_email}",
        ]
        for user in traders:
            lines.append(
                f"  trader:       {user.email} (password {demo.TRADER_PASSWORD}, {demo.two_factor_state(user)}): "
                f"{demo.balances_of(user)}"
            )
        lines += [
            f"  staff:        {admin.email} (password {demo.ADMIN_PASSWORD}, superuser, "
            f"{demo.two_factor_state(admin)})",
            "",
            "Get an API token:",
            f"  curl -s -X POST {BASE_URL}/api/v1/auth/token -H 'Content-Type: application/json' \\",
            f'       -d \'{{"email": "{demo.TRADERS["alice"]}", "password": "{demo.TRADER_PASSWORD}"}}\'',
            "  then send 'Authorization: Bearer <access>', e.g.",
            f"  curl -s {BASE_URL}/api/v1/balances -H 'Authorization: Bearer <access>'",
            "",
            f"Admin: {BASE_URL}/admin/ as {admin.email} / {demo.ADMIN_PASSWORD}",
        ]
        if demo.two_factor_state(admin) == "2FA on":
            lines.append(f"  one-time password: .venv/bin/python manage.py demo_otp {admin.email}")
        else:
            lines.append("  2FA is off for this account: start the server with ADMIN_REQUIRE_OTP=0 for a local trial.")
        return lines
