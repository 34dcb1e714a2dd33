"""Rejection needs a reason and gives back exactly what was locked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.assertions import assert_error
from wallets.models import LedgerEntry, WithdrawalEvent
from wallets.withdrawals import withdrawal_approve, withdrawal_mark_sent

from .helpers import balance, request_withdrawal

pytestmark = pytest.mark.django_db


def _reject(client, withdrawal_id, **body):
    return client.post(f"/api/v1/backoffice/withdrawals/{withdrawal_id}/reject", body, format="json")


def test_reject_unlocks_the_funds_and_records_the_reason(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")

    response = _reject(auth_client(officer), withdrawal.pk, reason="address on a sanctions list")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "address on a sanctions list"
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
    assert LedgerEntry.objects.get(user=trader, kind="withdrawal_unlock").locked_change == Decimal("-0.5005")
    event = WithdrawalEvent.objects.get(withdrawal=withdrawal, action="reject")
    assert (event.actor_id, event.from_status, event.to_status, event.reason) == (
        officer.pk,
        "pending_review",
        "rejected",
        "address on a sanctions list",
    )


def test_the_trader_sees_the_rejection_reason(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    _reject(auth_client(officer), withdrawal.pk, reason="unverified address")

    mine = auth_client(trader).get("/api/v1/withdrawals").json()["results"][0]

    assert mine["status"] == "rejected"
    assert mine["history"][-1]["reason"] == "unverified address"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
def test_reject_needs_a_reason(trader, btc, officer, auth_client, body):
    withdrawal = request_withdrawal(trader, btc, "0.5")

    assert_error(_reject(auth_client(officer), withdrawal.pk, **body), 400, "validation_error")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0.5005"))


def test_an_approved_withdrawal_can_still_be_rejected_by_someone_else(trader, btc, officer, officer2, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    response = _reject(auth_client(officer2), withdrawal.pk, reason="fraud report")

    assert response.json()["status"] == "rejected"
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))


def test_a_completed_withdrawal_cannot_be_rejected(trader, btc, officer, officer2, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)
    withdrawal_mark_sent(actor=officer, withdrawal_id=withdrawal.pk, txid="tx-1")

    assert_error(_reject(auth_client(officer2), withdrawal.pk, reason="late"), 409, "invalid_status")


def test_reject_twice_unlocks_once(trader, btc, officer, officer2, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    _reject(auth_client(officer), withdrawal.pk, reason="no")

    assert_error(_reject(auth_client(officer2), withdrawal.pk, reason="no"), 409, "invalid_status")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
