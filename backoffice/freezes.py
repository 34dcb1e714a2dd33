"""Account freezes: compliance or back office stop an account's trading, withdrawals or both.

A freeze applies at once (the person who asks is enough): the user row's flags are set
and saved, which voids the cached user, so the very next request of the account is
refused (``account_frozen``: ``accounts.freezes``). A trading freeze also asks the
matcher to cancel every open order of the account (``trading.services.orders_cancel_all``
per market): the matcher takes them off the book in sequence and settlement releases
the funds as for any cancel. An order whose placement passed the check just before the
freeze committed is caught by a second sweep a few seconds later (a Celery task).

Unfreezing is four-eyes: one staff member asks (with a reason), a different one approves
(the flags are lifted) or rejects; nobody decides on their own request or account.
Every step writes an ``AccountFreeze`` row and a staff audit record in its transaction,
and a freeze tells the account's owner (``NoticeDue(ACCOUNT_FROZEN)``). Whether the
actor holds ``backoffice.freeze_account`` is checked by the caller (API, admin).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit import staff_action_record
from accounts.models import User
from exchange_site import events
from exchange_site.errors import Conflict, InvalidInput, NotFound, clean_text
from exchange_site.events import NoticeDue, NoticeKind
from exchange_site.four_eyes import AlreadyDecided, SelfApproval, four_eyes_refusal
from markets.models import Market, Order
from trading.services import orders_cancel_all

from .models import AccountFreeze

logger = logging.getLogger(__name__)

MAX_REASON = 2000
# How long after a trading freeze the open orders are swept a second time.
RESWEEP_SECONDS = 5

Kind = AccountFreeze.Kind
Status = AccountFreeze.Status


class NotFrozen(Conflict):
    code = "not_frozen"
    message = "The account is not frozen."


class UnfreezePending(Conflict):
    code = "unfreeze_pending"
    message = "An unfreeze of this account already waits for a second staff member."


@dataclass
class FreezeState:
    """What the API answers: the account's flags and the unfreeze waiting for approval, if any."""

    user: User
    pending_unfreeze: AccountFreeze | None = None
    canceled_orders: int = 0
    freeze: AccountFreeze | None = None


def _state(user: User) -> dict[str, Any]:
    return {"trading_frozen": user.trading_frozen, "withdrawals_frozen": user.withdrawals_frozen}


def _locked_user(user_id: int) -> User:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("Account not found.")
    return user


def _flags_set(user: User, *, trading: bool, withdrawals: bool) -> None:
    # save() (not a queryset update): its signal voids the cached user in every process.
    user.trading_frozen = trading
    user.withdrawals_frozen = withdrawals
    user.save(update_fields=["trading_frozen", "withdrawals_frozen"])


def pending_unfreeze(*, user_id: int) -> AccountFreeze | None:
    return AccountFreeze.objects.filter(user_id=user_id, kind=Kind.UNFREEZE, status=Status.PENDING).first()


def freeze_state(*, user_id: int) -> FreezeState:
    """The account's freeze flags now and the pending unfreeze request (for the API's answer)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("Account not found.")
    return FreezeState(user=user, pending_unfreeze=pending_unfreeze(user_id=user_id))


def account_freeze_check(*, actor: User, user: User, trading: bool, withdrawals: bool, reason: str) -> str:
    """Refuse a freeze that breaks a rule (``DomainError``); return the cleaned reason (the admin form asks first)."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    if not (trading or withdrawals):
        raise InvalidInput("Freeze trading, withdrawals or both.", details={"fields": ["trading", "withdrawals"]})
    if user.is_system:
        raise InvalidInput.field("user", "The system account cannot be frozen.")
    if user.pk == actor.pk:
        raise SelfApproval("Nobody may freeze their own account.")
    return reason


def frozen_accounts() -> QuerySet[User]:
    """Accounts with trading or withdrawals frozen (the admin index lists them)."""
    # Through the freezes (a short table): the users table has no index on the flags.
    ever_frozen = AccountFreeze.objects.filter(kind=Kind.FREEZE).values("user_id")
    return User.objects.filter(Q(trading_frozen=True) | Q(withdrawals_frozen=True), pk__in=ever_frozen).order_by(
        "email"
    )


def account_freeze(*, actor: User, user_id: int, trading: bool, withdrawals: bool, reason: str) -> FreezeState:
    """Freeze trading and/or withdrawals now; a trading freeze cancels the open orders through the matcher."""
    with transaction.atomic(durable=True):
        user = _locked_user(user_id)
        reason = account_freeze_check(actor=actor, user=user, trading=trading, withdrawals=withdrawals, reason=reason)
        before = _state(user)
        _flags_set(user, trading=user.trading_frozen or trading, withdrawals=user.withdrawals_frozen or withdrawals)
        # A new freeze must not be lifted by an unfreeze asked for before it.
        superseded = AccountFreeze.objects.filter(user=user, kind=Kind.UNFREEZE, status=Status.PENDING).update(
            status=Status.REJECTED, decided_at=timezone.now(), decision_reason="superseded by a new freeze"
        )
        row = AccountFreeze.objects.create(
            user=user,
            kind=Kind.FREEZE,
            trading=trading,
            withdrawals=withdrawals,
            reason=reason,
            status=Status.APPLIED,
            requested_by=actor,
        )
        staff_action_record(
            actor=actor,
            action="account.freeze",
            obj=user,
            before=before,
            after={**_state(user), "reason": reason, "freeze_id": row.pk, "unfreezes_superseded": superseded},
        )
        scope = ",".join(name for name, on in (("trading", trading), ("withdrawals", withdrawals)) if on)
        events.announce_on_commit(NoticeDue(user_id=user.pk, kind=NoticeKind.ACCOUNT_FROZEN, details={"scope": scope}))
    state = FreezeState(user=user, freeze=row)
    if user.trading_frozen:
        state.canceled_orders = frozen_orders_cancel(user_id=user.pk)
        _resweep_later(user.pk)
    return state


def frozen_orders_cancel(*, user_id: int) -> int:
    """Ask the matcher to cancel every open order of a trading-frozen account (all markets); safe to repeat."""
    if not User.objects.filter(pk=user_id, trading_frozen=True).exists():
        return 0
    market_ids = (
        Order.objects.filter(user_id=user_id, status__in=Order.OPEN_STATUSES, cancel_requested_at__isnull=True)
        .values_list("market_id", flat=True)
        .distinct()
    )
    return sum(
        orders_cancel_all(user_id=user_id, market=market) for market in Market.objects.filter(pk__in=list(market_ids))
    )


def _resweep_later(user_id: int) -> None:
    from .tasks import frozen_orders_sweep

    try:
        frozen_orders_sweep.apply_async((user_id,), countdown=RESWEEP_SECONDS)
    except Exception:  # the broker is down: the first sweep ran, the window is milliseconds wide
        logger.warning("could not queue the second order sweep of frozen user %s", user_id, exc_info=True)


def _four_eyes(request: AccountFreeze, actor: User) -> dict[str, Any]:
    return {
        "actor_id": actor.pk,
        "is_open": request.status == Status.PENDING,
        "status": request.status,
        "involved_ids": (request.requested_by_id, request.user_id),
    }


def unfreeze_may_decide(*, request: AccountFreeze, actor: User) -> bool:
    """Whether ``actor`` may approve or reject this unfreeze request now (the admin shows only those buttons)."""
    return request.kind == Kind.UNFREEZE and four_eyes_refusal(**_four_eyes(request, actor)) is None


def account_unfreeze(*, actor: User, user_id: int, reason: str) -> FreezeState:
    """The back-office API's one call: ask for an unfreeze, or approve a colleague's pending one.

    The same person asking twice is ``self_approval``; an account no longer frozen
    (someone approved already) is ``already_decided``.
    """
    state = freeze_state(user_id=user_id)
    if state.pending_unfreeze is not None:
        unfreeze_approve(actor=actor, request_id=state.pending_unfreeze.pk, comment=reason)
        return freeze_state(user_id=user_id)
    if not (state.user.trading_frozen or state.user.withdrawals_frozen):
        raise AlreadyDecided("The account is not frozen (an unfreeze was approved already, or it never was).")
    unfreeze_request(actor=actor, user_id=user_id, reason=reason)
    return freeze_state(user_id=user_id)


def unfreeze_request(*, actor: User, user_id: int, reason: str) -> AccountFreeze:
    """Ask for the account's freeze to be lifted; nothing changes until a second staff member approves."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    try:
        with transaction.atomic(durable=True):
            user = _locked_user(user_id)
            if user.pk == actor.pk:
                raise SelfApproval("Nobody may ask to unfreeze their own account.")
            if not (user.trading_frozen or user.withdrawals_frozen):
                raise NotFrozen()
            row = AccountFreeze.objects.create(
                user=user,
                kind=Kind.UNFREEZE,
                trading=user.trading_frozen,
                withdrawals=user.withdrawals_frozen,
                reason=reason,
                status=Status.PENDING,
                requested_by=actor,
            )
            staff_action_record(
                actor=actor,
                action="account.unfreeze_request",
                obj=user,
                before=_state(user),
                after={"status": row.status, "reason": reason, "freeze_id": row.pk},
            )
    except IntegrityError:
        raise UnfreezePending(details={"user_id": user_id}) from None
    row.admin_notice = "waits for a second staff member's approval."  # type: ignore[attr-defined]
    return row


def _locked_request(request_id: int, actor: User) -> AccountFreeze:
    request = AccountFreeze.objects.select_for_update().filter(pk=request_id, kind=Kind.UNFREEZE).first()
    if request is None:
        raise NotFound("Unfreeze request not found.")
    refusal = four_eyes_refusal(**_four_eyes(request, actor))
    if refusal is not None:
        raise refusal
    return request


def _decide(request: AccountFreeze, *, actor: User, status: str, reason: str) -> None:
    request.status = status
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_reason = reason
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])


def unfreeze_approve(*, actor: User, request_id: int, comment: str = "") -> AccountFreeze:
    """Approve a colleague's unfreeze request: trading and withdrawals are allowed again."""
    comment = clean_text(comment, name="comment", required=False, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        request = _locked_request(request_id, actor)
        user = _locked_user(request.user_id)
        before = _state(user)
        _flags_set(user, trading=False, withdrawals=False)
        _decide(request, actor=actor, status=Status.APPLIED, reason=comment)
        staff_action_record(
            actor=actor,
            action="account.unfreeze_approve",
            obj=user,
            before=before,
            after={**_state(user), "comment": comment, "freeze_id": request.pk},
        )
    return request


def unfreeze_reject(*, actor: User, request_id: int, reason: str) -> AccountFreeze:
    """Turn an unfreeze request down; the account stays frozen."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        request = _locked_request(request_id, actor)
        _decide(request, actor=actor, status=Status.REJECTED, reason=reason)
        staff_action_record(
            actor=actor,
            action="account.unfreeze_reject",
            obj=request.user,
            before={"status": Status.PENDING},
            after={"status": request.status, "reason": reason, "freeze_id": request.pk},
        )
    return request
