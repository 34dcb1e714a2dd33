"""Four-eyes approval: distinct approvers, never one's own request, one decision per person."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.roles import BACK_OFFICE
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from tests.assertions import assert_error
from wallets.models import Withdrawal, WithdrawalEvent
from wallets.withdrawals import withdrawal_approve, withdrawal_reject

from .helpers import balance, fund, make_staff, request_withdrawal

pytestmark = pytest.mark.django_db


def _approve(client, withdrawal_id, **body):
    return client.post(f"/api/v1/backoffice/withdrawals/{withdrawal_id}/approve", body, format="json")


def test_one_approval_approves_below_the_dual_threshold(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")

    response = _approve(auth_client(officer), withdrawal.pk, comment="KYC checked")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "approved"
    assert [(a["by"], a["comment"]) for a in data["approvals"]] == [(officer.email, "KYC checked")]
    assert data["required_approvals"] == 1
    # Approval moves no money: amount + fee stay locked until the payout.
    assert balance(trader, btc) == (Decimal("10"), Decimal("0.5005"))


def test_at_the_dual_threshold_two_distinct_approvers_are_needed(trader, btc, officer, officer2, auth_client):
    withdrawal = request_withdrawal(trader, btc, "1")

    first = _approve(auth_client(officer), withdrawal.pk).json()
    assert first["status"] == "pending_review"
    assert [a["by"] for a in first["approvals"]] == [officer.email]

    second = _approve(auth_client(officer2), withdrawal.pk).json()
    assert second["status"] == "approved"
    assert [a["by"] for a in second["approvals"]] == [officer.email, officer2.email]
    events = WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").order_by("id")
    assert [(e.actor_id, e.from_status, e.to_status) for e in events] == [
        (officer.pk, "pending_review", "pending_review"),
        (officer2.pk, "pending_review", "approved"),
    ]


def test_the_same_person_cannot_approve_twice(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "1")
    client = auth_client(officer)
    _approve(client, withdrawal.pk)

    assert_error(_approve(client, withdrawal.pk), 409, "already_decided")
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.PENDING_REVIEW
    assert WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").count() == 1


def test_a_second_decision_after_an_approved_withdrawal_is_already_decided(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    client = auth_client(officer)
    _approve(client, withdrawal.pk)

    assert_error(_approve(client, withdrawal.pk), 409, "already_decided")
    reject = client.post(f"/api/v1/backoffice/withdrawals/{withdrawal.pk}/reject", {"reason": "x"}, format="json")
    assert_error(reject, 409, "already_decided")


def test_nobody_approves_their_own_withdrawal(btc, officer, auth_client):
    fund(officer, btc, "5")
    withdrawal = request_withdrawal(officer, btc, "0.5")

    assert_error(_approve(auth_client(officer), withdrawal.pk), 409, "self_approval")
    with pytest.raises(SelfApproval):
        withdrawal_reject(actor=officer, withdrawal_id=withdrawal.pk, reason="mine")
    assert not WithdrawalEvent.objects.filter(withdrawal=withdrawal, actor=officer, action="approve").exists()


def test_a_superuser_cannot_approve_their_own_withdrawal_either(btc, auth_client):
    boss = make_staff(is_superuser=True)
    fund(boss, btc, "5")
    withdrawal = request_withdrawal(boss, btc, "0.5")

    assert_error(_approve(auth_client(boss), withdrawal.pk), 409, "self_approval")


def test_the_service_refuses_a_second_decision_even_without_the_api(trader, btc, officer):
    withdrawal = request_withdrawal(trader, btc, "1")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    with pytest.raises(AlreadyDecided):
        withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)


@pytest.mark.parametrize("who", ["trader", "compliance", "market_ops", "staff_without_role"])
def test_approval_needs_the_back_office_role(trader, btc, compliance, market_ops, auth_client, who):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    user = {"trader": trader, "compliance": compliance, "market_ops": market_ops}.get(who) or make_staff()

    assert_error(_approve(auth_client(user), withdrawal.pk), 403, "permission_denied")
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.PENDING_REVIEW


def test_back_office_staff_without_2fa_cannot_decide(trader, btc, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    no_2fa = make_staff(BACK_OFFICE, two_factor=False)

    assert_error(_approve(auth_client(no_2fa), withdrawal.pk), 403, "permission_denied")


def test_approving_a_canceled_withdrawal_is_refused(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    auth_client(trader).post(f"/api/v1/withdrawals/{withdrawal.pk}/cancel")

    assert_error(_approve(auth_client(officer), withdrawal.pk), 409, "invalid_status")


def test_unknown_withdrawal_answers_not_found(officer, auth_client):
    assert_error(_approve(auth_client(officer), 424242), 404, "not_found")
    assert_error(_approve(auth_client(officer), 10**30), 404, "not_found")


def test_back_office_list_filters_by_status_and_shows_approvals(trader, btc, officer, compliance, auth_client):
    # The small one first: the dual-approval threshold counts the rolling 24-hour sum.
    done = request_withdrawal(trader, btc, "0.5")
    pending = request_withdrawal(trader, btc, "1")
    withdrawal_approve(actor=officer, withdrawal_id=done.pk)
    withdrawal_approve(actor=officer, withdrawal_id=pending.pk)

    for viewer in (officer, compliance):
        response = auth_client(viewer).get("/api/v1/backoffice/withdrawals", {"status": "pending_review"})
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert [w["id"] for w in results] == [pending.pk]
        assert results[0]["user"]["email"] == trader.email
        assert [a["by"] for a in results[0]["approvals"]] == [officer.email]

    assert_error(auth_client(trader).get("/api/v1/backoffice/withdrawals"), 403, "permission_denied")
    assert_error(
        auth_client(officer).get("/api/v1/backoffice/withdrawals", {"status": "nope"}), 400, "validation_error"
    )


def test_back_office_detail_shows_the_full_history_with_actors(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk, comment="ok")

    data = auth_client(officer).get(f"/api/v1/backoffice/withdrawals/{withdrawal.pk}").json()

    assert [(h["action"], h["by"]) for h in data["history"]] == [
        ("request", trader.email),
        ("submit", None),
        ("approve", officer.email),
    ]


def test_the_trader_sees_no_staff_identity_or_comment(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk, comment="internal note")

    body = auth_client(trader).get("/api/v1/withdrawals").content.decode()

    assert officer.email not in body
    assert "internal note" not in body
