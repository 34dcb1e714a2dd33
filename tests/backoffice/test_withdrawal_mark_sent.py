"""Recording the payout: the amount and fee leave the wallet, the fee reaches the fee account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.selectors import fee_account
from tests.assertions import assert_error
from wallets.audit import ledger_audit
from wallets.models import LedgerEntry, Withdrawal
from wallets.withdrawals import withdrawal_approve, withdrawal_cancel, withdrawal_reject

from .helpers import balance, ledger_kinds, make_trader, request_withdrawal

pytestmark = pytest.mark.django_db


def _sent(client, withdrawal_id, **body):
    return client.post(f"/api/v1/backoffice/withdrawals/{withdrawal_id}/sent", body, format="json")


def test_mark_sent_takes_amount_and_fee_and_pays_the_fee_account(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    response = _sent(auth_client(officer), withdrawal.pk, txid="0xpayout1")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["txid"]) == ("completed", "0xpayout1")
    assert data["completed_at"] is not None
    assert balance(trader, btc) == (Decimal("9.4995"), Decimal("0"))
    assert balance(fee_account(), btc) == (Decimal("0.0005"), Decimal("0"))
    assert ledger_kinds(trader, btc)[-2:] == [
        ("withdrawal", Decimal("-0.5"), Decimal("-0.5")),
        ("withdrawal_fee", Decimal("-0.0005"), Decimal("-0.0005")),
    ]
    assert LedgerEntry.objects.get(user=fee_account(), kind="fee_income").reference == f"withdrawal:{withdrawal.pk}"
    assert data["history"][-1]["action"] == "mark_sent"


def test_mark_sent_needs_an_approved_withdrawal(trader, btc, officer, auth_client):
    withdrawal = request_withdrawal(trader, btc, "1")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)  # one of two approvals

    assert_error(_sent(auth_client(officer), withdrawal.pk, txid="tx"), 409, "invalid_status")
    assert balance(trader, btc) == (Decimal("10"), Decimal("1.0005"))


def test_mark_sent_twice_pays_once(trader, btc, officer, officer2, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)
    _sent(auth_client(officer), withdrawal.pk, txid="tx-a")

    assert_error(_sent(auth_client(officer2), withdrawal.pk, txid="tx-b"), 409, "invalid_status")
    assert balance(trader, btc) == (Decimal("9.4995"), Decimal("0"))
    assert Withdrawal.objects.get(pk=withdrawal.pk).txid == "tx-a"


@pytest.mark.parametrize("body", [{}, {"txid": ""}, {"txid": "x" * 129}])
def test_mark_sent_needs_a_txid(trader, btc, officer, auth_client, body):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    assert_error(_sent(auth_client(officer), withdrawal.pk, **body), 400, "validation_error")


def test_mark_sent_needs_the_back_office_role(trader, btc, officer, compliance, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)

    assert_error(_sent(auth_client(compliance), withdrawal.pk, txid="tx"), 403, "permission_denied")


def test_without_a_fee_only_the_amount_leaves(trader, btc, officer):
    btc.withdrawal_fee = Decimal(0)
    btc.save()
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)
    from wallets.withdrawals import withdrawal_mark_sent

    withdrawal_mark_sent(actor=officer, withdrawal_id=withdrawal.pk, txid="tx")

    assert balance(trader, btc) == (Decimal("9.5"), Decimal("0"))
    assert not LedgerEntry.objects.filter(kind="withdrawal_fee").exists()


def test_the_ledger_audit_passes_after_every_withdrawal_outcome(btc, officer, officer2):
    from wallets.deposits import custody_deposit_notify, deposit_address_get
    from wallets.manual_deposits import manual_deposit_approve, manual_deposit_propose
    from wallets.withdrawals import withdrawal_mark_sent

    # Funded the real ways, so the audit can account for every coin: custody and manual deposits.
    trader = make_trader(btc, "0")
    address = deposit_address_get(user=trader, currency=btc).address
    custody_deposit_notify(currency_code="BTC", address=address, amount=Decimal("7"), txid="in-1", confirmations=6)
    proposal = manual_deposit_propose(actor=officer, user=trader, currency=btc, amount=Decimal("3"), reason="ticket 1")
    manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk)
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))

    completed = request_withdrawal(trader, btc, "1.2")
    withdrawal_approve(actor=officer, withdrawal_id=completed.pk)
    withdrawal_approve(actor=officer2, withdrawal_id=completed.pk)
    withdrawal_mark_sent(actor=officer, withdrawal_id=completed.pk, txid="tx-1")
    rejected = request_withdrawal(trader, btc, "0.3")
    withdrawal_reject(actor=officer, withdrawal_id=rejected.pk, reason="no")
    canceled = request_withdrawal(trader, btc, "0.2")
    withdrawal_cancel(user=trader, withdrawal_id=canceled.pk)
    request_withdrawal(trader, btc, "0.1")  # still pending: locked
    approved = request_withdrawal(trader, btc, "0.4")
    withdrawal_approve(actor=officer2, withdrawal_id=approved.pk)  # approved, not yet sent: locked

    report = ledger_audit(wait_seconds=0)

    assert report.ok, [str(b) for b in report.breaches]
    summary = next(s for s in report.currencies if s.currency == "BTC")
    assert summary.completed_withdrawals == Decimal("1.2")
    assert summary.expected_locked == Decimal("0.1005") + Decimal("0.4005")
