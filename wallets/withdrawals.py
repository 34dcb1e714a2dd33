"""Withdrawal use cases: request, cancel and the four-eyes review by back-office staff.

requested (amount + fee locked, one-time password checked) -> pending_review ->
approved (one approver, or two distinct ones at or above the currency's dual-approval
threshold; never the requester) -> completed (payout txid recorded: the funds leave,
the fee goes to the fee account). Rejected or canceled withdrawals unlock the funds.

Every transition writes a ``WithdrawalEvent`` in the same transaction. Each decision
locks the withdrawal row first, so concurrent decisions are applied one after the other
and see each other's events. Whether the actor holds the back-office role is checked by
the caller (API or admin); the rules that hold for everyone are checked here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.audit import staff_action_record
from accounts.freezes import ensure_withdrawals_not_frozen
from accounts.models import User
from accounts.selectors import fee_account, two_factor_enabled
from accounts.services import InvalidOtp, OtpRequired, otp_verify
from exchange_site.errors import Conflict, DomainError, InvalidInput, NotFound, clean_text
from exchange_site.events import NoticeDue, NoticeKind, announce_on_commit
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from exchange_site.money import fmt
from markets.models import Currency

from .incidents import ensure_withdrawals_not_held
from .models import LedgerEntry, Wallet, Withdrawal, WithdrawalEvent
from .services import BalanceChange, InsufficientFunds, wallet_apply_changes
from .withdrawal_controls import withdrawal_controls_check

ZERO = Decimal(0)
MAX_REASON = 2000
MAX_TXID = 128
# Addresses of every supported chain fit this shape; anything else is a typo or an attack.
_ADDRESS = re.compile(r"[A-Za-z0-9:._\-]{8,128}")

Status = Withdrawal.Status
Action = WithdrawalEvent.Action


class TwoFactorRequired(DomainError):
    code = "two_factor_required"
    status_code = 403
    message = "Turn on two-factor authentication before withdrawing."


class WithdrawalsDisabled(DomainError):
    code = "withdrawals_disabled"
    message = "Withdrawals are disabled for this currency."


class BelowMinimum(DomainError):
    code = "min_withdrawal"
    message = "The amount is below the currency's minimum withdrawal."


class InvalidTransition(Conflict):
    code = "invalid_status"
    message = "The withdrawal is not in a status that allows this."


def _event(
    withdrawal: Withdrawal, *, actor: User | None, action: str, from_status: str, reason: str = ""
) -> WithdrawalEvent:
    return WithdrawalEvent.objects.create(
        withdrawal=withdrawal,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=withdrawal.status,
        reason=reason,
    )


def _transition(withdrawal: Withdrawal, to: str, *, actor: User | None, action: str, reason: str = "") -> None:
    from_status = withdrawal.status
    withdrawal.status = to
    fields = ["status", "updated_at"]
    if to in (Status.REJECTED, Status.CANCELED):
        withdrawal.reason = reason
        fields.append("reason")
    if to == Status.COMPLETED:
        withdrawal.completed_at = timezone.now()
        fields.append("completed_at")
    withdrawal.save(update_fields=fields)
    _event(withdrawal, actor=actor, action=action, from_status=from_status, reason=reason)


def _notice(withdrawal: Withdrawal, kind: NoticeKind) -> None:
    """Email the owner once the transition commits (no secret in the details)."""
    details = {
        "withdrawal_id": str(withdrawal.pk),
        "amount": fmt(withdrawal.amount),
        "currency": withdrawal.currency.code,
        "address": withdrawal.address,
    }
    if withdrawal.status == Status.REJECTED:
        details["reason"] = withdrawal.reason
    if withdrawal.txid:
        details["txid"] = withdrawal.txid
    announce_on_commit(NoticeDue(user_id=withdrawal.user_id, kind=kind, details=details))


def _audit(withdrawal: Withdrawal, *, actor: User, action: str, before: str, reason: str) -> None:
    """The staff audit trail's copy of a staff decision (the event row stays the withdrawal's own history)."""
    staff_action_record(
        actor=actor,
        action=f"withdrawal.{action}",
        obj=withdrawal,
        before={"status": before},
        after={"status": withdrawal.status, "reason": reason, "user_id": withdrawal.user_id},
    )


def _locked(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("Withdrawal not found.")
    return withdrawal


def _unlock(withdrawal: Withdrawal) -> None:
    wallet_apply_changes(
        changes=[
            BalanceChange(
                user_id=withdrawal.user_id,
                currency_id=withdrawal.currency_id,
                kind=LedgerEntry.Kind.WITHDRAWAL_UNLOCK,
                locked=-withdrawal.locked_total,
                reference=f"withdrawal:{withdrawal.pk}",
            )
        ]
    )


# Statuses each staff decision starts from; the services and the admin's buttons share them.
DECISION_STATUSES = {
    "approve": (Status.PENDING_REVIEW,),
    "reject": (Status.PENDING_REVIEW, Status.APPROVED),
    "sent": (Status.APPROVED,),
}


def withdrawal_decider_refusal(*, withdrawal: Withdrawal, actor: User, decision: str) -> Conflict | None:
    """Who may decide: never the requester, and each person approves or rejects once (sent: any other person).

    The one copy of the rule: the services raise the refusal, the admin hides the button.
    """
    if withdrawal.user_id == actor.pk:
        return SelfApproval("Nobody may decide on their own withdrawal.", details={"withdrawal_id": withdrawal.pk})
    if decision != "sent" and _decided_by(withdrawal, actor):
        return AlreadyDecided(
            "You already made a decision on this withdrawal.", details={"withdrawal_id": withdrawal.pk}
        )
    return None


def withdrawal_may_decide(*, withdrawal: Withdrawal, actor: User, decision: str) -> bool:
    """Whether ``actor`` may take ``decision`` on ``withdrawal`` in its current status."""
    return (
        withdrawal.status in DECISION_STATUSES[decision]
        and withdrawal_decider_refusal(withdrawal=withdrawal, actor=actor, decision=decision) is None
    )


def _decided_by(withdrawal: Withdrawal, actor: User) -> bool:
    return WithdrawalEvent.objects.filter(
        withdrawal=withdrawal, actor_id=actor.pk, action__in=(Action.APPROVE, Action.REJECT)
    ).exists()


def _check_decider(withdrawal: Withdrawal, actor: User, decision: str) -> None:
    refusal = withdrawal_decider_refusal(withdrawal=withdrawal, actor=actor, decision=decision)
    if refusal is not None:
        raise refusal


def required_approvals_for(*, currency: Currency, amount: Decimal) -> int:
    """Two distinct approvers at or above the currency's dual-approval threshold, else one.

    ``amount``: the request's rolling 24-hour sum of the currency (``withdrawal_controls_check``).
    """
    return 2 if amount >= currency.dual_approval_threshold else 1


def withdrawal_request(*, user: User, currency: Currency, amount: Decimal, address: str, otp: str | None) -> Withdrawal:
    """Lock ``amount`` plus the currency's fee and queue the withdrawal for review.

    The one-time password is checked (and used up) before the funds are locked, in its
    own transaction, so a failed attempt counts for throttling even though we refuse.
    """
    if user.is_system or not user.is_active:
        raise DomainError("This account cannot withdraw.", code="permission_denied", status_code=403)
    ensure_withdrawals_not_frozen(user=user)
    if not two_factor_enabled(user=user):
        raise TwoFactorRequired()
    if not currency.withdrawals_enabled:
        raise WithdrawalsDisabled(details={"currency": currency.code})
    ensure_withdrawals_not_held(currency_id=currency.pk)
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput.field("amount", "amount must be greater than zero.")
    if amount != amount.quantize(Decimal(1).scaleb(-currency.precision)):
        raise InvalidInput.field("amount", f"amount has more than {currency.precision} decimal places.")
    if amount < currency.min_withdrawal:
        raise BelowMinimum(details={"min_withdrawal": fmt(currency.min_withdrawal)})
    address = (address or "").strip()
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput.field("address", "address is not a valid withdrawal address.")
    fee = currency.withdrawal_fee
    # A cheap early answer: the binding check is made under the wallet lock below.
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    available = wallet.available if wallet else ZERO
    if available < amount + fee:
        raise InsufficientFunds(details={"currency": currency.code, "available": fmt(available)})
    # Whitelist and tier limits (wallets/withdrawal_controls.py): an early answer here,
    # the binding check under the user's row lock below.
    withdrawal_controls_check(user=user, currency=currency, amount=amount, address=address)
    if otp is None or not str(otp).strip():
        raise OtpRequired()
    if not otp_verify(user=user, otp=str(otp)):
        raise InvalidOtp()

    with transaction.atomic(durable=True):
        # The dual-approval threshold counts the last 24 hours' sum: splitting does not avoid it.
        rolling = withdrawal_controls_check(user=user, currency=currency, amount=amount, address=address, lock=True)
        withdrawal = Withdrawal.objects.create(
            user=user,
            currency=currency,
            amount=amount,
            fee=fee,
            address=address,
            status=Status.REQUESTED,
            required_approvals=required_approvals_for(currency=currency, amount=rolling),
        )
        _event(withdrawal, actor=user, action=Action.REQUEST, from_status="")
        wallet_apply_changes(
            changes=[
                BalanceChange(
                    user_id=user.pk,
                    currency_id=currency.pk,
                    kind=LedgerEntry.Kind.WITHDRAWAL_LOCK,
                    locked=withdrawal.locked_total,
                    reference=f"withdrawal:{withdrawal.pk}",
                )
            ]
        )
        # Funds are held and the code checked: the request goes straight to the review queue.
        _transition(withdrawal, Status.PENDING_REVIEW, actor=None, action=Action.SUBMIT)
        _notice(withdrawal, NoticeKind.WITHDRAWAL_REQUESTED)
    return withdrawal


def withdrawal_cancel(*, user: User, withdrawal_id: int) -> Withdrawal:
    """Let the owner take back a withdrawal nobody has finished reviewing; the funds are unlocked."""
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        if withdrawal.user_id != user.pk:
            raise NotFound("Withdrawal not found.")
        if withdrawal.status not in (Status.REQUESTED, Status.PENDING_REVIEW):
            raise InvalidTransition(
                "Only a withdrawal still pending review can be canceled.", details={"status": withdrawal.status}
            )
        _unlock(withdrawal)
        _transition(withdrawal, Status.CANCELED, actor=user, action=Action.CANCEL, reason="canceled by the user")
    return withdrawal


def withdrawal_approve(*, actor: User, withdrawal_id: int, comment: str = "") -> Withdrawal:
    """Record ``actor``'s approval; the withdrawal is approved once enough distinct people approved."""
    comment = clean_text(comment, name="comment", required=False, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        _check_decider(withdrawal, actor, "approve")
        ensure_withdrawals_not_held(currency_id=withdrawal.currency_id)
        if withdrawal.status not in DECISION_STATUSES["approve"]:
            raise InvalidTransition(details={"status": withdrawal.status})
        # Distinct by construction: one approval per person (also a unique constraint).
        approvals = WithdrawalEvent.objects.filter(withdrawal=withdrawal, action=Action.APPROVE).count()
        before = withdrawal.status
        if approvals + 1 >= withdrawal.required_approvals:
            _transition(withdrawal, Status.APPROVED, actor=actor, action=Action.APPROVE, reason=comment)
            _notice(withdrawal, NoticeKind.WITHDRAWAL_APPROVED)
        else:
            _event(withdrawal, actor=actor, action=Action.APPROVE, from_status=withdrawal.status, reason=comment)
        _audit(withdrawal, actor=actor, action="approve", before=before, reason=comment)
    return withdrawal


def withdrawal_reject(*, actor: User, withdrawal_id: int, reason: str) -> Withdrawal:
    """Refuse the withdrawal (before it is sent) with a reason; the funds are unlocked."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        _check_decider(withdrawal, actor, "reject")
        if withdrawal.status not in DECISION_STATUSES["reject"]:
            raise InvalidTransition(details={"status": withdrawal.status})
        before = withdrawal.status
        _unlock(withdrawal)
        _transition(withdrawal, Status.REJECTED, actor=actor, action=Action.REJECT, reason=reason)
        _notice(withdrawal, NoticeKind.WITHDRAWAL_REJECTED)
        _audit(withdrawal, actor=actor, action="reject", before=before, reason=reason)
    return withdrawal


def withdrawal_mark_sent(*, actor: User, withdrawal_id: int, txid: str) -> Withdrawal:
    """Record the payout's txid: the amount and fee leave the user's wallet, the fee goes to the fee account."""
    txid = clean_text(txid, name="txid", required=True, max_length=MAX_TXID)
    with transaction.atomic(durable=True):
        withdrawal = _locked(withdrawal_id)
        _check_decider(withdrawal, actor, "sent")
        ensure_withdrawals_not_held(currency_id=withdrawal.currency_id)
        if withdrawal.status not in DECISION_STATUSES["sent"]:
            raise InvalidTransition(
                "Only an approved withdrawal can be marked sent.", details={"status": withdrawal.status}
            )
        reference = f"withdrawal:{withdrawal.pk}"
        changes = [
            BalanceChange(
                user_id=withdrawal.user_id,
                currency_id=withdrawal.currency_id,
                kind=LedgerEntry.Kind.WITHDRAWAL,
                amount=-withdrawal.amount,
                locked=-withdrawal.amount,
                reference=reference,
            )
        ]
        if withdrawal.fee:
            changes += [
                BalanceChange(
                    user_id=withdrawal.user_id,
                    currency_id=withdrawal.currency_id,
                    kind=LedgerEntry.Kind.WITHDRAWAL_FEE,
                    amount=-withdrawal.fee,
                    locked=-withdrawal.fee,
                    reference=reference,
                ),
                BalanceChange(
                    user_id=fee_account().pk,
                    currency_id=withdrawal.currency_id,
                    kind=LedgerEntry.Kind.FEE_INCOME,
                    amount=withdrawal.fee,
                    reference=reference,
                ),
            ]
        wallet_apply_changes(changes=changes)
        withdrawal.txid = txid
        withdrawal.save(update_fields=["txid"])
        _transition(withdrawal, Status.COMPLETED, actor=actor, action=Action.MARK_SENT, reason=f"txid {txid}")
        _notice(withdrawal, NoticeKind.WITHDRAWAL_SENT)
        _audit(withdrawal, actor=actor, action="mark_sent", before=Status.APPROVED, reason=f"txid {txid}")
    return withdrawal
