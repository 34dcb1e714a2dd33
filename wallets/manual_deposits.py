"""Manual deposits: credits without a custody notice, under four eyes.

One back-office member proposes the credit with a reason; a different member approves
it, and only that approval credits the wallet, as a ``Deposit`` with source ``manual``
(so the ledger audit counts it like any credited deposit). Whether the actor holds the
back-office role is checked by the caller.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.audit import staff_action_record
from accounts.models import User
from exchange_site.errors import Conflict, InvalidInput, NotFound, clean_text
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from exchange_site.money import fmt
from markets.models import Currency

from .models import Deposit, LedgerEntry, ManualDeposit
from .services import BalanceChange, wallet_apply_changes
from .withdrawals import MAX_REASON

Status = ManualDeposit.Status


def _audit(proposal: ManualDeposit, *, actor: User, action: str, before: str | None) -> None:
    staff_action_record(
        actor=actor,
        action=f"manual_deposit.{action}",
        obj=proposal,
        before={"status": before} if before else None,
        after={
            "status": proposal.status,
            "user_id": proposal.user_id,
            "currency_id": proposal.currency_id,
            "amount": fmt(proposal.amount),
            "reason": proposal.decision_reason or proposal.reason,
        },
    )


def manual_deposit_decider_refusal(*, proposal: ManualDeposit, actor: User) -> Conflict | None:
    """Who may decide: neither the proposer nor the credited user, and only once (the admin hides refused buttons)."""
    if proposal.status != Status.PROPOSED:
        return AlreadyDecided(
            "This manual deposit was already approved or rejected.", details={"status": proposal.status}
        )
    if actor.pk in (proposal.proposed_by_id, proposal.user_id):
        return SelfApproval("The proposer (or the credited user) cannot decide on this manual deposit.")
    return None


def _locked_for_decision(*, manual_deposit_id: int, actor: User) -> ManualDeposit:
    proposal = ManualDeposit.objects.select_for_update().filter(pk=manual_deposit_id).first()
    if proposal is None:
        raise NotFound("Manual deposit not found.")
    refusal = manual_deposit_decider_refusal(proposal=proposal, actor=actor)
    if refusal is not None:
        raise refusal
    return proposal


def manual_deposit_check(*, actor: User, user: User, currency: Currency, amount: Decimal, reason: str) -> str:
    """Refuse a proposal that breaks a rule (``DomainError``); return the cleaned reason.

    Lets the admin form show the problem next to the fields before anything is written.
    """
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    if user.is_system:
        raise InvalidInput.field("user", "The fee account cannot receive manual deposits.")
    if actor.pk == user.pk:
        raise SelfApproval("Nobody may propose a credit to their own account.")
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput.field("amount", "amount must be greater than zero.")
    if amount != amount.quantize(Decimal(1).scaleb(-currency.precision)):
        raise InvalidInput.field("amount", f"amount has more than {currency.precision} decimal places.")
    return reason


def manual_deposit_propose(
    *, actor: User, user: User, currency: Currency, amount: Decimal, reason: str
) -> ManualDeposit:
    """Record a proposed credit; nothing moves until another member approves it."""
    reason = manual_deposit_check(actor=actor, user=user, currency=currency, amount=amount, reason=reason)
    with transaction.atomic(durable=True):
        proposal = ManualDeposit.objects.create(
            user=user, currency=currency, amount=amount, reason=reason, proposed_by=actor, status=Status.PROPOSED
        )
        _audit(proposal, actor=actor, action="propose", before=None)
    return proposal


def manual_deposit_approve(*, actor: User, manual_deposit_id: int, comment: str = "") -> ManualDeposit:
    """Approve a colleague's proposal and credit the wallet through a manual ``Deposit``."""
    comment = (comment or "").strip()[:MAX_REASON]
    with transaction.atomic(durable=True):
        proposal = _locked_for_decision(manual_deposit_id=manual_deposit_id, actor=actor)
        now = timezone.now()
        deposit = Deposit.objects.create(
            user_id=proposal.user_id,
            currency_id=proposal.currency_id,
            amount=proposal.amount,
            txid=f"manual:{proposal.pk}",
            confirmations=0,
            status=Deposit.Status.CREDITED,
            source=Deposit.Source.MANUAL,
            credited_at=now,
        )
        wallet_apply_changes(
            changes=[
                BalanceChange(
                    user_id=proposal.user_id,
                    currency_id=proposal.currency_id,
                    kind=LedgerEntry.Kind.DEPOSIT,
                    amount=proposal.amount,
                    reference=f"deposit:{deposit.pk}",
                )
            ]
        )
        proposal.status = Status.APPROVED
        proposal.decided_by = actor
        proposal.decided_at = now
        proposal.decision_reason = comment
        proposal.deposit = deposit
        proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "deposit"])
        _audit(proposal, actor=actor, action="approve", before=Status.PROPOSED)
    return proposal


def manual_deposit_reject(*, actor: User, manual_deposit_id: int, reason: str) -> ManualDeposit:
    """Turn a proposal down with a reason; nothing is credited."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        proposal = _locked_for_decision(manual_deposit_id=manual_deposit_id, actor=actor)
        proposal.status = Status.REJECTED
        proposal.decided_by = actor
        proposal.decided_at = timezone.now()
        proposal.decision_reason = reason
        proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _audit(proposal, actor=actor, action="reject", before=Status.PROPOSED)
    return proposal
