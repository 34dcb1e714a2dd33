"""Concurrent decisions on one withdrawal are applied one after the other (row lock; PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from accounts.roles import BACK_OFFICE
from exchange_site.four_eyes import AlreadyDecided
from tests.concurrency import race
from wallets.models import Withdrawal, WithdrawalEvent
from wallets.withdrawals import (
    InvalidTransition,
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_mark_sent,
    withdrawal_reject,
)

from .helpers import balance, make_staff, request_withdrawal

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_two_approvers_racing_on_a_single_approval_withdrawal_approve_it_once(trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    a, b, c = (make_staff(BACK_OFFICE, two_factor=False) for _ in range(3))

    results = race(*(lambda u=u: withdrawal_approve(actor=u, withdrawal_id=withdrawal.pk) for u in (a, b, c)))

    assert sum(isinstance(r, Withdrawal) for r in results) == 1, results
    assert all(isinstance(r, Withdrawal | InvalidTransition) for r in results), results
    assert WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").count() == 1
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "approved"


def test_one_person_clicking_approve_twice_at_once_counts_once(trader, btc):
    withdrawal = request_withdrawal(trader, btc, "2")
    officer = make_staff(BACK_OFFICE, two_factor=False)

    results = race(*(lambda: withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk) for _ in range(3)))

    assert sum(isinstance(r, Withdrawal) for r in results) == 1, results
    assert sum(isinstance(r, AlreadyDecided) for r in results) == 2, results
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "pending_review"


def test_reject_cancel_and_payout_racing_leave_the_funds_exactly_right(trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    approver, rejecter, sender = (make_staff(BACK_OFFICE, two_factor=False) for _ in range(3))
    withdrawal_approve(actor=approver, withdrawal_id=withdrawal.pk)

    results = race(
        lambda: withdrawal_reject(actor=rejecter, withdrawal_id=withdrawal.pk, reason="stop"),
        lambda: withdrawal_mark_sent(actor=sender, withdrawal_id=withdrawal.pk, txid="tx"),
        lambda: withdrawal_cancel(user=trader, withdrawal_id=withdrawal.pk),
    )

    final = Withdrawal.objects.get(pk=withdrawal.pk)
    assert final.status in ("rejected", "completed"), results
    assert isinstance(results[2], InvalidTransition)  # approved: no longer the user's to cancel
    expected = (Decimal("10"), Decimal("0")) if final.status == "rejected" else (Decimal("9.4995"), Decimal("0"))
    assert balance(trader, btc) == expected
