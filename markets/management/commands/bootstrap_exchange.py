"""Set up a production exchange: fee account, currencies, markets, first superuser.

Unlike ``seed_demo`` it creates no trader, no balance and no known password: the
superuser's password is typed (twice, not echoed) or read from
``BOOTSTRAP_ADMIN_PASSWORD``, and must pass the password validators. Safe to run again.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from markets.bootstrap import BootstrapError, bootstrap_spec_clean, exchange_bootstrap, superuser_bootstrap

PASSWORD_ENV = "BOOTSTRAP_ADMIN_PASSWORD"
EXAMPLE = """{
  "currencies": {
    "BTC": {"name": "Bitcoin", "precision": 8, "withdrawal_fee": "0.0005", "min_withdrawal": "0.001",
            "dual_approval_threshold": "1", "min_confirmations": 2},
    "USDT": {"name": "Tether USD", "precision": 6, "withdrawal_fee": "1", "min_withdrawal": "10"}
  },
  "markets": {
    "BTC-USDT": {"tick_size": "0.01", "lot_size": "0.00001", "min_qty": "0.00001", "min_notional": "5",
                 "maker_fee": "0.001", "taker_fee": "0.002"}
  }
}"""


class Command(BaseCommand):
    help = (
        "Create the fee account, the currencies and markets of a JSON spec (--spec) and the first staff "
        f"superuser (--admin-email; password typed, or from ${PASSWORD_ENV}). Idempotent. Spec example:\n{EXAMPLE}"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--spec", type=Path, help="JSON file of currencies and markets (see --help).")
        parser.add_argument(
            "--currency",
            action="append",
            default=[],
            metavar="CODE:NAME:PRECISION",
            help="A currency with default fees and limits (repeatable); added to --spec's.",
        )
        parser.add_argument(
            "--market",
            action="append",
            default=[],
            metavar="BASE-QUOTE:TICK:LOT[:MAKER_FEE:TAKER_FEE]",
            help="A market (repeatable); added to --spec's.",
        )
        parser.add_argument("--admin-email", help="Email of the first staff superuser.")
        parser.add_argument(
            "--no-input", action="store_true", help=f"Never prompt: the password must come from ${PASSWORD_ENV}."
        )

    def handle(
        self,
        *args: Any,
        spec: Path | None,
        currency: list[str],
        market: list[str],
        admin_email: str | None,
        no_input: bool,
        **options: Any,
    ) -> None:
        if spec is None and not currency and not market and not admin_email:
            raise CommandError("Nothing to do: give --spec FILE, --currency, --market and/or --admin-email EMAIL.")
        try:
            if spec is not None or currency or market:
                raw = _read_spec(spec) if spec is not None else {}
                _add_flags(raw, currency, market)
                report = exchange_bootstrap(spec=bootstrap_spec_clean(raw))
                for line in report.created:
                    self.stdout.write(f"created   {line}")
                for line in report.unchanged:
                    self.stdout.write(f"unchanged {line}")
            if admin_email:
                user, created = superuser_bootstrap(email=admin_email, password=self._password(no_input))
                if created:
                    self.stdout.write(f"created   superuser {user.email}")
                    self.stdout.write(
                        "  Next: log in to the API as this user, turn on 2FA (POST /api/v1/auth/2fa/setup, then "
                        "/api/v1/auth/2fa/confirm); the admin requires the one-time password."
                    )
                else:
                    self.stdout.write(f"unchanged user {user.email} (exists; its password was not changed)")
        except BootstrapError as exc:
            raise CommandError(exc.message) from exc

    def _password(self, no_input: bool) -> str:
        password = os.environ.get(PASSWORD_ENV, "")
        if password:
            return password
        if no_input or not sys.stdin.isatty():
            raise CommandError(f"Set {PASSWORD_ENV} or run interactively to type the admin password.")
        password = getpass.getpass("Admin password: ")
        if password != getpass.getpass("Admin password (again): "):
            raise CommandError("The passwords differ.")
        return password


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise CommandError(f"{path}: the spec must be a JSON object.")
    return raw


def _add_flags(raw: dict[str, Any], currencies: list[str], markets: list[str]) -> None:
    """Translate --currency and --market into the spec's shape (validated with the rest)."""
    for flag in currencies:
        parts = flag.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise CommandError(f"--currency {flag!r}: expected CODE:NAME:PRECISION, e.g. BTC:Bitcoin:8.")
        raw.setdefault("currencies", {})[parts[0]] = {"name": parts[1], "precision": int(parts[2])}
    for flag in markets:
        parts = flag.split(":")
        if len(parts) not in (3, 5):
            raise CommandError(f"--market {flag!r}: expected BASE-QUOTE:TICK:LOT[:MAKER_FEE:TAKER_FEE].")
        entry = {"tick_size": parts[1], "lot_size": parts[2], "min_qty": parts[2]}
        if len(parts) == 5:
            entry.update(maker_fee=parts[3], taker_fee=parts[4])
        raw.setdefault("markets", {})[parts[0]] = entry
