"""Withdrawals racing each other cannot pass a limit or the dual-approval threshold together (PostgreSQL).

Each request reads the rolling sum after locking the user's row, so the second one sees
the first. The one-time passwords are backup codes: one each, usable in any order.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from tests.concurrency import race
from tests.factories import CurrencyFactory, UserFactory, fund
from tests.otp import enable_2fa
from wallets.models import Withdrawal
from wallets.withdrawal_controls import WithdrawalLimitExceeded
from wallets.withdrawals import withdrawal_cancel, withdrawal_request

from .controls import btc_currency, limit, price

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def _trader(currency, amount="10"):
    user = UserFactory()
    codes = enable_2fa(user)
    fund(user, currency, amount)
    return user, codes


def _request(user, currency, amount, code):
    return lambda: withdrawal_request(
        user=user, currency=currency, amount=Decimal(amount), address="bc1qexampleaddress0001", otp=code
    )


def test_two_withdrawals_racing_cannot_pass_a_limit_together():
    btc = btc_currency()
    limit(0, btc, "1")
    user, codes = _trader(btc)

    for _ in range(3):  # a few rounds: each must let exactly one through
        for pending in Withdrawal.objects.filter(user=user, status=Withdrawal.Status.PENDING_REVIEW):
            withdrawal_cancel(user=user, withdrawal_id=pending.pk)
        results = race(*(_request(user, btc, "0.6", codes.pop()) for _ in range(2)))

        assert sum(isinstance(r, Withdrawal) for r in results) == 1, results
        assert sum(isinstance(r, WithdrawalLimitExceeded) for r in results) == 1, results


def test_withdrawals_of_two_currencies_racing_cannot_pass_the_reference_limit_together():
    btc = btc_currency()
    usdt = CurrencyFactory(code="USDT", name="Tether USD", precision=6)
    price(btc, usdt, "10000")
    limit(0, usdt, "10000")
    user, codes = _trader(btc)
    fund(user, usdt, "10000")

    results = race(_request(user, btc, "0.6", codes[0]), _request(user, usdt, "6000", codes[1]))

    assert sum(isinstance(r, Withdrawal) for r in results) == 1, results
    assert sum(isinstance(r, WithdrawalLimitExceeded) for r in results) == 1, results


def test_split_withdrawals_racing_still_reach_the_dual_approval_threshold():
    btc = btc_currency()  # two approvers from 1 BTC
    user, codes = _trader(btc)

    results = race(*(_request(user, btc, "0.6", codes[i]) for i in range(2)))

    assert all(isinstance(r, Withdrawal) for r in results), results
    assert sorted(r.required_approvals for r in results) == [1, 2]
