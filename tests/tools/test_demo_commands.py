"""seed_demo reports what exists now; demo_otp prints a working code, on the embedded default only."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from accounts.services import InvalidOtp, token_obtain, two_factor_devices_remove
from tests.backoffice.helpers import enable_2fa
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_allowed(settings):
    settings.DEBUG = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def otp(email: str | None = None) -> str:
    out = StringIO()
    call_command("demo_otp", *([email] if email else []), stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def _line(output: str, email: str) -> str:
    return next(line for line in output.splitlines() if email in line and "password" in line)


def test_a_rerun_shows_current_balances_and_2fa_state(auth_client):
    first = seed()
    assert "USDT 1000000," not in _line(first, "alice@")  # the last column has no comma
    assert _line(first, "alice@").endswith("BTC 10, ETH 100, USDT 1000000")
    assert "2FA on" in _line(first, "admin@demo.exchange")

    alice = User.objects.get(email="alice@demo.exchange")
    placed = auth_client(alice).post(
        "/api/v1/orders",
        {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "1000", "quantity": "0.5"},
        format="json",
    )
    assert placed.status_code == 201, placed.content
    enable_2fa(alice)
    two_factor_devices_remove(user=User.objects.get(email="admin@demo.exchange"))

    again = seed()
    assert _line(again, "alice@").endswith("BTC 10, ETH 100, USDT 1000000 (500 locked)")
    assert "2FA on" in _line(again, "alice@")
    assert "2FA off" in _line(again, "admin@demo.exchange")
    assert "ADMIN_REQUIRE_OTP=0" in again
    assert "demo_otp" not in again


def test_demo_otp_prints_a_code_the_login_accepts_and_then_moves_on():
    seed()  # confirming the authenticator used up the current step's code
    first = otp()
    assert first.isdigit()
    assert len(first) == 6
    assert token_obtain(email="admin@demo.exchange", password="admin-password-123", otp=first).access
    with pytest.raises(InvalidOtp):  # a code opens one login
        token_obtain(email="admin@demo.exchange", password="admin-password-123", otp=first)
    assert otp("admin@demo.exchange") != first  # the step just used is spent: the next code is shown


def test_demo_otp_refuses_deployments_other_accounts_and_accounts_without_2fa(settings):
    seed()
    enable_2fa(UserFactory(email="real@example.com"))
    with pytest.raises(CommandError, match="seed_demo accounts only"):
        otp("real@example.com")
    with pytest.raises(CommandError, match="2FA off"):
        otp("bob@demo.exchange")
    settings.EMBEDDED = False
    settings.DEBUG = False
    with pytest.raises(CommandError, match="embedded default"):
        otp()
