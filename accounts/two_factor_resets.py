"""Staff-assisted 2FA reset for a user who lost their authenticator, under four eyes.

One staff member records the proposal with how the user's identity was checked; a
different one approves it, and only the approval removes the user's authenticator and
backup codes and ends every session. Nobody proposes or decides a reset of their own
account. Whether the actor holds the right (``accounts.reset_two_factor``) is checked
by the caller.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from exchange_site.errors import Conflict, DomainError, NotFound
from exchange_site.four_eyes import SelfApproval, four_eyes_check, four_eyes_refusal

from .audit import staff_action_record
from .models import SessionFamily, TwoFactorReset, User
from .selectors import two_factor_enabled
from .services import TwoFactorNotEnabled, sessions_revoke_all, two_factor_devices_remove, two_factor_notice

MAX_REASON = 2000
Status = TwoFactorReset.Status


class ResetAlreadyProposed(Conflict):
    code = "reset_already_proposed"
    message = "A 2FA reset of this user is already waiting for a decision."


def _text(value: str | None, *, name: str, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(f"{name} is required.", code="validation_error", details={"field": name})
    if len(text) > MAX_REASON:
        raise DomainError(
            f"{name} must be at most {MAX_REASON} characters.", code="validation_error", details={"field": name}
        )
    return text


def two_factor_reset_check(*, actor: User, user: User, reason: str) -> str:
    """Refuse a proposal that breaks a rule (``DomainError``); return the cleaned reason."""
    reason = _text(reason, name="reason", required=True)
    if actor.pk == user.pk:
        raise SelfApproval("Nobody may propose a reset of their own two-factor authentication.")
    if user.is_system:
        raise DomainError("The system account has no two-factor authentication.", code="validation_error")
    if not two_factor_enabled(user=user):
        raise TwoFactorNotEnabled()
    if TwoFactorReset.objects.filter(user=user, status=Status.PROPOSED).exists():
        raise ResetAlreadyProposed(details={"user_id": user.pk})
    return reason


def two_factor_reset_propose(*, actor: User, user: User, reason: str) -> TwoFactorReset:
    """Record a proposal; nothing changes for the user until a colleague approves it."""
    reason = two_factor_reset_check(actor=actor, user=user, reason=reason)
    try:
        with transaction.atomic(durable=True):
            reset = TwoFactorReset.objects.create(user=user, reason=reason, proposed_by=actor)
            _audit(reset, actor=actor, action="two_factor_reset.propose", before=None)
            return reset
    except IntegrityError:
        raise ResetAlreadyProposed(details={"user_id": user.pk}) from None


def _locked_for_decision(*, reset_id: int, actor: User) -> TwoFactorReset:
    reset = TwoFactorReset.objects.select_for_update().filter(pk=reset_id).first()
    if reset is None:
        raise NotFound("2FA reset not found.")
    four_eyes_check(**_four_eyes(reset, actor))
    return reset


def _four_eyes(reset: TwoFactorReset, actor: User) -> dict:
    return {
        "actor_id": actor.pk,
        "is_open": reset.status == Status.PROPOSED,
        "status": reset.status,
        "involved_ids": (reset.proposed_by_id, reset.user_id),
    }


def two_factor_reset_may_decide(*, reset: TwoFactorReset, actor: User) -> bool:
    """Whether ``actor`` may approve or reject ``reset`` now (the admin shows only those buttons)."""
    return four_eyes_refusal(**_four_eyes(reset, actor)) is None


def _audit(reset: TwoFactorReset, *, actor: User, action: str, before: dict | None) -> None:
    staff_action_record(
        actor=actor,
        action=action,
        obj=reset,
        before=before,
        after={"status": reset.status, "user_id": reset.user_id, "reason": reset.decision_reason or reset.reason},
    )


def _decide(reset: TwoFactorReset, *, actor: User, status: str, reason: str) -> None:
    before = {"status": reset.status}
    reset.status = status
    reset.decided_by = actor
    reset.decided_at = timezone.now()
    reset.decision_reason = reason
    reset.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    verb = "approve" if status == Status.APPROVED else "reject"
    _audit(reset, actor=actor, action=f"two_factor_reset.{verb}", before=before)


def two_factor_reset_approve(*, actor: User, reset_id: int, comment: str = "") -> TwoFactorReset:
    """Approve a colleague's proposal: the user's 2FA is off and every session of theirs ends."""
    comment = _text(comment, name="comment", required=False)
    with transaction.atomic(durable=True):
        reset = _locked_for_decision(reset_id=reset_id, actor=actor)
        user = User.objects.select_for_update().get(pk=reset.user_id)
        two_factor_devices_remove(user=user)
        sessions_revoke_all(user=user, reason=SessionFamily.Reason.TWO_FACTOR_RESET)
        two_factor_notice(user=user, change="reset by our staff")
        _decide(reset, actor=actor, status=Status.APPROVED, reason=comment)
    return reset


def two_factor_reset_reject(*, actor: User, reset_id: int, reason: str) -> TwoFactorReset:
    """Turn a proposal down with a reason; the user's 2FA stays as it is."""
    reason = _text(reason, name="reason", required=True)
    with transaction.atomic(durable=True):
        reset = _locked_for_decision(reset_id=reset_id, actor=actor)
        _decide(reset, actor=actor, status=Status.REJECTED, reason=reason)
    return reset
