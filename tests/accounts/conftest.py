"""Fixtures for the accounts tests: users, logins, users with two-factor authentication."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, UserFactory
from tests.otp import enable_2fa as _enable_2fa


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
    """Turn 2FA on through the services and return the backup codes (see ``tests.otp.enable_2fa``)."""
    return _enable_2fa


@pytest.fixture
def user_2fa(user, enable_2fa):
    user.backup_codes = enable_2fa(user)
    return user
