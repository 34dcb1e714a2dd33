"""Single-use credentials stay single-use under concurrent requests (row locks; PostgreSQL only)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import otp_verify, token_refresh, two_factor_confirm, two_factor_setup
from exchange_site.errors import DomainError
from tests.factories import UserFactory

from .helpers import totp_code, totp_device

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def race(func: Callable[[], object], n: int = 4) -> list[object]:
    """Run ``func`` in ``n`` threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            result: object = func()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            result = exc
        finally:
            connections.close_all()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def two_factor_user():
    user = UserFactory()
    two_factor_setup(user=user)
    codes = two_factor_confirm(user=user, otp=totp_code(totp_device(user), steps=-1))
    return user, codes


def test_a_refresh_token_rotates_once_under_concurrent_refreshes():
    token = str(RefreshToken.for_user(UserFactory()))

    results = race(lambda: token_refresh(refresh=token))

    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, DomainError) for r in results if isinstance(r, Exception))


def test_a_backup_code_passes_once_under_concurrent_use():
    user, codes = two_factor_user()

    results = race(lambda: otp_verify(user=user, otp=codes[0]))

    assert sorted(results, key=str) == [False, False, False, True]


def test_an_authenticator_code_passes_once_under_concurrent_use():
    user, _ = two_factor_user()
    code = totp_code(totp_device(user))

    results = race(lambda: otp_verify(user=user, otp=code))

    assert sorted(results, key=str) == [False, False, False, True]
