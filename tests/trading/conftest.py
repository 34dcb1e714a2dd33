"""Fixtures of the trading tests."""

from __future__ import annotations

import pytest

from tests.factories import fund


@pytest.fixture
def traders(market, make_trader, auth_client):
    """alice with 100,000 quote, bob with 10 base, and an API client for each."""
    alice, bob = make_trader(), make_trader()
    fund(alice, market.quote, "100000")
    fund(bob, market.base, "10")
    return alice, bob, auth_client(alice), auth_client(bob)
