"""Single-use credentials stay single-use under concurrent requests (row locks; PostgreSQL only)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import otp_verify, token_refresh, two_factor_confirm, two_factor_setup
from exchange_site.errors import DomainError
from tests.concurrency import race
from tests.factories import UserFactory

from .helpers import totp_code, totp_device

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def two_factor_user():
    user = UserFactory()
    two_factor_setup(user=user)
    codes = two_factor_confirm(user=user, otp=totp_code(totp_device(user), steps=-1))
    return user, codes


def test_a_refresh_token_rotates_once_under_concurrent_refreshes():
    token = str(RefreshToken.for_user(UserFactory()))

    results = race(*[lambda: token_refresh(refresh=token)] * 4)

    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, DomainError) for r in results if isinstance(r, Exception))


def test_a_backup_code_passes_once_under_concurrent_use():
    user, codes = two_factor_user()

    results = race(*[lambda: otp_verify(user=user, otp=codes[0])] * 4)

    assert sorted(results, key=str) == [False, False, False, True]


def test_an_authenticator_code_passes_once_under_concurrent_use():
    user, _ = two_factor_user()
    code = totp_code(totp_device(user))

    results = race(*[lambda: otp_verify(user=user, otp=code)] * 4)

    assert sorted(results, key=str) == [False, False, False, True]
