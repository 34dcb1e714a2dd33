"""Finding 1: demo data never reaches production; ``bootstrap_exchange`` sets a deployment up.

seed_demo (a superuser with a published password, unbacked balances) refuses to run
outside the embedded default or DEBUG; bootstrap_exchange creates the fee account,
currencies and markets from a validated JSON spec and the first superuser with a
password nobody else knows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from markets.models import Currency, Market
from wallets.models import Wallet

ROOT = Path(__file__).resolve().parents[2]
STRONG = "correct-horse-battery-staple-42"
SPEC = {
    "currencies": {
        "BTC": {
            "name": "Bitcoin",
            "precision": 8,
            "withdrawal_fee": "0.0005",
            "min_withdrawal": "0.001",
            "dual_approval_threshold": "1",
            "min_confirmations": 2,
        },
        "USDT": {"name": "Tether USD", "precision": 6, "withdrawal_fee": "1", "min_withdrawal": "10"},
    },
    "markets": {
        "BTC-USDT": {
            "tick_size": "0.01",
            "lot_size": "0.00001",
            "min_qty": "0.00001",
            "min_notional": "5",
            "maker_fee": "0.001",
            "taker_fee": "0.002",
        }
    },
}


def snapshot() -> tuple:
    return (
        sorted(User.objects.values_list("email", "is_staff", "is_superuser", "password")),
        sorted(Currency.objects.values_list()),
        sorted(Market.objects.values_list()),
    )


def bootstrap(tmp_path: Path, spec: dict | None = None, *args: str) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC if spec is None else spec))
    out = StringIO()
    call_command("bootstrap_exchange", "--spec", str(path), *args, stdout=out)
    return out.getvalue()


# -- seed_demo -------------------------------------------------------------------------


def test_seed_demo_refuses_a_deployment_and_creates_nothing(db, settings):
    settings.EMBEDDED = False
    settings.DEBUG = False

    with pytest.raises(CommandError, match="bootstrap_exchange"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.filter(email="admin@demo.exchange").exists()
    assert not Currency.objects.exists()


def test_manage_seed_demo_exits_non_zero_with_a_database_url_and_debug_off():
    env = dict(os.environ)
    # Nothing listens on port 9: the refusal must come before any connection.
    env.update(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:9/nowhere",
            "SECRET_KEY": "k" * 10 + "a-real-deployment-would-have-a-random-key",
            "CUSTODY_WEBHOOK_SECRET": "c" * 40,
            "DEBUG": "0",
        }
    )
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "runs only on the embedded default" in result.stderr


def test_seed_demo_still_runs_with_debug_on(db, settings):
    settings.EMBEDDED = False
    settings.DEBUG = True

    call_command("seed_demo", stdout=StringIO())

    assert Market.objects.filter(symbol="BTC-USDT").exists()


# -- bootstrap_exchange ------------------------------------------------------------------


def test_bootstrap_creates_fee_account_currencies_markets_and_a_superuser(db, tmp_path, monkeypatch, settings):
    monkeypatch.setenv("BOOTSTRAP_ADMIN_PASSWORD", STRONG)

    out = bootstrap(tmp_path, None, "--admin-email", "Ops@Example.com", "--no-input")

    assert "created   market BTC-USDT" in out
    btc_usdt = Market.objects.get(symbol="BTC-USDT")
    assert (btc_usdt.base.code, btc_usdt.quote.code, btc_usdt.tick_size) == ("BTC", "USDT", Decimal("0.01"))
    assert Currency.objects.get(code="BTC").dual_approval_threshold == Decimal(1)
    assert User.objects.filter(email=settings.FEE_ACCOUNT_EMAIL, is_system=True, is_active=False).exists()
    admin = User.objects.get(email="ops@example.com")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.check_password(STRONG)
    assert STRONG not in out
    # Only the fee account and the admin: no trader, no balance.
    assert User.objects.count() == 2
    assert not Wallet.objects.exists()


def test_bootstrap_twice_changes_nothing(db, tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTSTRAP_ADMIN_PASSWORD", STRONG)
    bootstrap(tmp_path, None, "--admin-email", "ops@example.com", "--no-input")
    before = snapshot()

    monkeypatch.setenv("BOOTSTRAP_ADMIN_PASSWORD", "another-strong-passphrase-77")
    out = bootstrap(tmp_path, None, "--admin-email", "ops@example.com", "--no-input")

    assert snapshot() == before
    assert "created" not in out


@pytest.mark.parametrize("weak", ["short-pw", "password123", "12345678901234", "ops@example.com1"])
def test_bootstrap_refuses_a_weak_admin_password(db, tmp_path, monkeypatch, weak):
    monkeypatch.setenv("BOOTSTRAP_ADMIN_PASSWORD", weak)

    with pytest.raises(CommandError, match="too weak"):
        call_command("bootstrap_exchange", "--admin-email", "ops@example.com", "--no-input", stdout=StringIO())

    assert not User.objects.filter(email="ops@example.com").exists()


def test_bootstrap_never_uses_a_default_password(db, monkeypatch):
    monkeypatch.delenv("BOOTSTRAP_ADMIN_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="BOOTSTRAP_ADMIN_PASSWORD"):
        call_command("bootstrap_exchange", "--admin-email", "ops@example.com", "--no-input", stdout=StringIO())

    assert not User.objects.filter(email="ops@example.com").exists()


def test_bootstrap_asks_for_the_password_twice_when_interactive(db, monkeypatch):
    monkeypatch.delenv("BOOTSTRAP_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter([STRONG, STRONG])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    call_command("bootstrap_exchange", "--admin-email", "ops@example.com", stdout=StringIO())

    assert User.objects.get(email="ops@example.com").check_password(STRONG)


def bad(path: tuple[str, ...], value):
    spec = json.loads(json.dumps(SPEC))
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (bad(("markets", "BTC-USDT", "tick_size"), "0.0000001"), "more than 6 decimal places"),
        (bad(("markets", "BTC-USDT", "lot_size"), "0.000000001"), "more than 8 decimal places"),
        (bad(("markets", "BTC-USDT", "lot_size"), "0"), "greater than zero"),
        (bad(("markets", "BTC-USDT", "taker_fee"), "0.5"), "out of range"),
        (bad(("markets", "BTC-USDT", "maker_fee"), "-0.001"), "zero or more"),
        (bad(("markets", "BTC-USDT", "min_qty"), "0.000015"), "multiple of lot_size"),
        (bad(("currencies", "BTC", "precision"), 19), "whole number from 0 to 18"),
        (bad(("currencies", "BTC", "withdrawal_fee"), "1" * 19), "out of range"),
        (bad(("currencies", "btc!"), {"name": "x", "precision": 2}), "capital letters"),
        (bad(("markets", "BTC-EUR"), {"tick_size": "0.01", "lot_size": "0.01"}), "unknown currency EUR"),
        (bad(("markets", "BTC-USDT", "tick"), "0.01"), "unknown keys"),
    ],
)
def test_bootstrap_refuses_an_invalid_spec_and_writes_nothing(db, tmp_path, spec, message):
    with pytest.raises(CommandError, match=message):
        bootstrap(tmp_path, spec)

    assert not Currency.objects.exists()
    assert not Market.objects.exists()


def test_bootstrap_refuses_to_change_an_existing_market_and_writes_nothing(db, tmp_path):
    bootstrap(tmp_path)
    before = snapshot()
    spec = bad(("markets", "BTC-USDT", "tick_size"), "0.1")
    spec["currencies"]["ETH"] = {"name": "Ether", "precision": 8}

    with pytest.raises(CommandError, match="exists with other settings"):
        bootstrap(tmp_path, spec)

    assert snapshot() == before


def test_bootstrap_takes_currencies_and_markets_from_flags(db):
    call_command(
        "bootstrap_exchange",
        "--currency", "ETH:Ether:8",
        "--currency", "USDC:USD Coin:6",
        "--market", "ETH-USDC:0.01:0.0001:0.001:0.002",
        stdout=StringIO(),
    )  # fmt: skip

    market = Market.objects.get(symbol="ETH-USDC")
    assert (market.tick_size, market.lot_size, market.min_qty) == (
        Decimal("0.01"),
        Decimal("0.0001"),
        Decimal("0.0001"),
    )
    assert Currency.objects.get(code="USDC").precision == 6


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--currency", "ETH:8"], "CODE:NAME:PRECISION"),
        (["--market", "ETH-USDC:0.01"], "BASE-QUOTE:TICK:LOT"),
        (
            ["--currency", "ETH:Ether:8", "--currency", "USDC:USD Coin:2", "--market", "ETH-USDC:0.001:1"],
            "decimal places",
        ),
    ],
)
def test_bootstrap_refuses_bad_flags_and_writes_nothing(db, flags, message):
    with pytest.raises(CommandError, match=message):
        call_command("bootstrap_exchange", *flags, stdout=StringIO())

    assert not Currency.objects.exists()
    assert not Market.objects.exists()
