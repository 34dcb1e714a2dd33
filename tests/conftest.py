from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, MarketFactory, UserFactory

# Fixtures more than one test directory uses, registered once (see tests/plugins/).
pytest_plugins = ["tests.plugins.live"]

TESTS = Path(__file__).resolve().parent
# These directories create users by the dozen in this process, and PBKDF2 at production
# strength makes every login a visible fraction of a second. The live tests keep the real
# hasher: the processes they start must check the same password hashes.
FAST_PASSWORD_DIRS = {"accounts", "backoffice", "security", "wallets"}
RELAXED_RATES = {"auth_ip": "1000000/m", "auth_account": "1000000/m", "trading": "1000000/m"}


def pytest_configure(config: pytest.Config) -> None:
    """No persistent connections in the test process itself (the processes it starts keep theirs).

    Channels' ``database_sync_to_async`` runs ORM calls in short-lived threads; a
    persistent connection there would outlive the test and block dropping the test DB.
    """
    from django.conf import settings

    for database in settings.DATABASES.values():
        database["CONN_MAX_AGE"] = 0
    from django.db.backends.signals import connection_created

    connection_created.connect(_audit_truncate_allowed, dispatch_uid="tests-audit-truncate")


def _audit_truncate_allowed(sender, connection, **kwargs) -> None:
    """Let this process's flushes (transactional tests) empty the append-only audit table (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET exchange.allow_audit_truncate = on")


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings):
    """Most tests log in and trade far faster than a person; rate-limit tests tighten this."""
    from django.core.cache import cache

    settings.EXCHANGE_THROTTLE_RATES = dict(RELAXED_RATES)
    cache.clear()
    # The matcher's running 24 h windows live in this process; the rolled-back database
    # reuses primary keys, so a market of an earlier test must not lend its figures.
    from matching import market_data

    market_data.state_clear()


@pytest.fixture(autouse=True)
def _fast_passwords(request):
    """MD5 password hashing for the in-process tests of FAST_PASSWORD_DIRS."""
    if Path(request.path).resolve().relative_to(TESTS).parts[0] in FAST_PASSWORD_DIRS:
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _publisher_connection_closed(django_db_setup):
    """The publisher thread of this process holds a DB connection; close it before the test DB goes.

    Any balance change (a test funding a wallet) queues a push, so any test can start it.
    """
    yield
    from realtime import publisher as publish

    if publish._publisher is not None:
        publish._publisher.close_connections()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def market(db):
    return MarketFactory()


@pytest.fixture
def make_trader(db):
    def _make(**kwargs):
        return UserFactory(**kwargs)

    return _make


@pytest.fixture
def auth_client():
    """An APIClient logged in as ``user`` with a real JWT from the token endpoint."""
    from rest_framework_simplejwt.tokens import RefreshToken

    def _client(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return _client


__all__ = ["PASSWORD"]
