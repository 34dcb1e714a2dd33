from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, MarketFactory, UserFactory


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
