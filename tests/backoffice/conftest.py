"""Fixtures for the back-office tests: a currency with fee and thresholds, staff of each role."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.roles import BACK_OFFICE, COMPLIANCE, MARKET_OPS
from tests.factories import CurrencyFactory

from .helpers import make_staff, make_trader


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (Debian's package) with Playwright")


@pytest.fixture
def btc(db):
    """Fee 0.0005, minimum 0.001, two approvers from 1 BTC."""
    return CurrencyFactory(
        code="BTC",
        name="Bitcoin",
        precision=8,
        withdrawal_fee=Decimal("0.0005"),
        min_withdrawal=Decimal("0.001"),
        dual_approval_threshold=Decimal("1"),
    )


@pytest.fixture
def trader(btc):
    return make_trader(btc, "10")


@pytest.fixture
def officer(db):
    return make_staff(BACK_OFFICE)


@pytest.fixture
def officer2(db):
    return make_staff(BACK_OFFICE)


@pytest.fixture
def compliance(db):
    return make_staff(COMPLIANCE)


@pytest.fixture
def market_ops(db):
    return make_staff(MARKET_OPS)
