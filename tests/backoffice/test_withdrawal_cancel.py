"""Canceling my withdrawal while it waits for review unlocks exactly what was locked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.assertions import assert_error
from wallets.models import LedgerEntry
from wallets.withdrawals import withdrawal_approve

from .helpers import balance, make_trader, request_withdrawal

pytestmark = pytest.mark.django_db


def _url(withdrawal_id):
    return f"/api/v1/withdrawals/{withdrawal_id}/cancel"


def test_cancel_while_pending_review_unlocks_the_funds(trader, btc, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")

    response = auth_client(trader).post(_url(withdrawal.pk))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
    unlock = LedgerEntry.objects.get(user=trader, kind=LedgerEntry.Kind.WITHDRAWAL_UNLOCK)
    assert unlock.locked_change == Decimal("-0.5005")
    history = response.json()["history"]
    assert (history[-1]["action"], history[-1]["from_status"], history[-1]["to_status"]) == (
        "cancel",
        "pending_review",
        "canceled",
    )


def test_cancel_after_approval_is_refused(trader, btc, auth_client, officer):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    assert_error(auth_client(trader).post(_url(withdrawal.pk)), 409, "invalid_status")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0.5005"))


def test_cancel_twice_unlocks_once(trader, btc, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    client = auth_client(trader)
    client.post(_url(withdrawal.pk))

    assert_error(client.post(_url(withdrawal.pk)), 409, "invalid_status")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))


def test_cannot_cancel_someone_elses_withdrawal(trader, btc, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    other = make_trader(btc, "1")

    assert_error(auth_client(other).post(_url(withdrawal.pk)), 404, "not_found")


@pytest.mark.parametrize("withdrawal_id", ["0", "99999999", str(2**63), str(10**30)])
def test_unknown_ids_answer_not_found(trader, auth_client, withdrawal_id):
    assert_error(auth_client(trader).post(_url(withdrawal_id)), 404, "not_found")
