"""Manual deposits: proposed by one back-office member, credited only when another approves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_site.errors import DomainError
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from wallets.manual_deposits import (
    manual_deposit_approve,
    manual_deposit_propose,
    manual_deposit_reject,
)
from wallets.models import Deposit, LedgerEntry, ManualDeposit

from .helpers import admin_login, balance, make_trader

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(btc):
    return make_trader(btc, "0", two_factor=False)


def _propose(officer, customer, btc, amount="2.5"):
    return manual_deposit_propose(
        actor=officer, user=customer, currency=btc, amount=Decimal(amount), reason="bank wire ref 42"
    )


def test_a_proposal_credits_nothing(officer, customer, btc):
    proposal = _propose(officer, customer, btc)

    assert proposal.status == ManualDeposit.Status.PROPOSED
    assert balance(customer, btc) == (Decimal(0), Decimal(0))
    assert not Deposit.objects.exists()


def test_approval_by_another_member_credits_a_manual_deposit(officer, officer2, customer, btc):
    proposal = _propose(officer, customer, btc)

    approved = manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk, comment="matches statement")

    assert approved.status == ManualDeposit.Status.APPROVED
    assert (approved.decided_by_id, approved.decision_reason) == (officer2.pk, "matches statement")
    deposit = approved.deposit
    assert (deposit.source, deposit.status, deposit.amount, deposit.user_id) == (
        "manual",
        "credited",
        Decimal("2.5"),
        customer.pk,
    )
    assert balance(customer, btc) == (Decimal("2.5"), Decimal(0))
    entry = LedgerEntry.objects.get(user=customer)
    assert (entry.kind, entry.amount, entry.reference) == ("deposit", Decimal("2.5"), f"deposit:{deposit.pk}")


def test_the_proposer_cannot_approve_their_own_proposal(officer, customer, btc):
    proposal = _propose(officer, customer, btc)

    with pytest.raises(SelfApproval):
        manual_deposit_approve(actor=officer, manual_deposit_id=proposal.pk)
    assert balance(customer, btc) == (Decimal(0), Decimal(0))


def test_nobody_proposes_or_approves_a_credit_to_themselves(officer, officer2, btc):
    with pytest.raises(SelfApproval):
        manual_deposit_propose(actor=officer, user=officer, currency=btc, amount=Decimal(1), reason="me")
    proposal = manual_deposit_propose(actor=officer, user=officer2, currency=btc, amount=Decimal(1), reason="x")
    with pytest.raises(SelfApproval):
        manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk)


def test_a_decided_proposal_cannot_be_decided_again(officer, officer2, customer, btc):
    proposal = _propose(officer, customer, btc)
    manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk)
    third = make_trader(btc, "0")

    with pytest.raises(AlreadyDecided):
        manual_deposit_approve(actor=third, manual_deposit_id=proposal.pk)
    with pytest.raises(AlreadyDecided):
        manual_deposit_reject(actor=third, manual_deposit_id=proposal.pk, reason="late")
    assert balance(customer, btc) == (Decimal("2.5"), Decimal(0))


def test_rejection_needs_a_reason_and_credits_nothing(officer, officer2, customer, btc):
    proposal = _propose(officer, customer, btc)
    with pytest.raises(DomainError):
        manual_deposit_reject(actor=officer2, manual_deposit_id=proposal.pk, reason=" ")

    rejected = manual_deposit_reject(actor=officer2, manual_deposit_id=proposal.pk, reason="duplicate of #41")

    assert (rejected.status, rejected.decision_reason) == ("rejected", "duplicate of #41")
    assert balance(customer, btc) == (Decimal(0), Decimal(0))


@pytest.mark.parametrize(("amount", "reason"), [("0", "x"), ("-1", "x"), ("0.123456789", "x"), ("1", "  ")])
def test_bad_proposals_are_refused(officer, customer, btc, amount, reason):
    with pytest.raises(DomainError):
        manual_deposit_propose(actor=officer, user=customer, currency=btc, amount=Decimal(amount), reason=reason)
    assert not ManualDeposit.objects.exists()


def test_the_admin_add_form_proposes_and_another_member_approves_in_the_admin(client, officer, officer2, customer, btc):
    admin_login(client, officer)
    response = client.post(
        "/admin/wallets/manualdeposit/add/",
        {"user": customer.pk, "currency": btc.pk, "amount": "1.25", "reason": "wire ref 77"},
    )
    assert response.status_code == 302, response.content
    proposal = ManualDeposit.objects.get()
    assert (proposal.proposed_by_id, proposal.status) == (officer.pk, "proposed")
    assert balance(customer, btc) == (Decimal(0), Decimal(0))

    # The proposer is not offered the decision, and forcing it is refused.
    page = client.get(f"/admin/wallets/manualdeposit/{proposal.pk}/change/").content.decode()
    assert 'id="decide-approve"' not in page
    client.post(f"/admin/wallets/manualdeposit/{proposal.pk}/decide/approve/", {"confirm": "yes"})
    assert ManualDeposit.objects.get().status == "proposed"

    client.logout()
    admin_login(client, officer2)
    page = client.get(f"/admin/wallets/manualdeposit/{proposal.pk}/change/").content.decode()
    assert 'id="decide-approve"' in page
    confirm = client.get(f"/admin/wallets/manualdeposit/{proposal.pk}/decide/approve/")
    assert confirm.status_code == 200
    assert b"credited at once" in confirm.content
    client.post(f"/admin/wallets/manualdeposit/{proposal.pk}/decide/approve/", {"confirm": "yes"})

    assert ManualDeposit.objects.get().status == "approved"
    assert balance(customer, btc) == (Decimal("1.25"), Decimal(0))


def test_the_admin_add_form_shows_rule_violations_next_to_the_fields(client, officer, btc):
    admin_login(client, officer)

    response = client.post(
        "/admin/wallets/manualdeposit/add/",
        {"user": officer.pk, "currency": btc.pk, "amount": "1", "reason": "to myself"},
    )

    assert response.status_code == 200
    assert b"own account" in response.content
    assert not ManualDeposit.objects.exists()
