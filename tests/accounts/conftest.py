"""Fixtures for the accounts tests: users, logins, users with two-factor authentication."""

from __future__ import annotations

import pytest

from accounts.services import two_factor_confirm, two_factor_setup
from tests.factories import PASSWORD, UserFactory

from .helpers import totp_code, totp_device


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def login():
    """POST /auth/token and return the response."""

    def _login(client, email, password=PASSWORD, **extra):
        return client.post("/api/v1/auth/token", {"email": email, "password": password, **extra}, format="json")

    return _login


@pytest.fixture
def enable_2fa():
    """Turn 2FA on through the services and return the backup codes.

    The confirming code is one step old, so the current and the next step's codes are
    still unused (django-otp refuses a code of a step already used).
    """

    def _enable(user) -> list[str]:
        two_factor_setup(user=user)
        return two_factor_confirm(user=user, otp=totp_code(totp_device(user), steps=-1))

    return _enable


@pytest.fixture
def user_2fa(user, enable_2fa):
    user.backup_codes = enable_2fa(user)
    return user
