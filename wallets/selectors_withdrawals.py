"""Reads of withdrawals and manual deposits, for the trader API, the back-office API and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from exchange_site.errors import DomainError, NotFound
from markets.models import Currency

from .models import ManualDeposit, Withdrawal, WithdrawalEvent

# Largest primary key of a BigAutoField: anything above cannot exist (and would overflow SQL).
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PendingWork:
    """What waits for a back-office decision (shown on the admin index)."""

    withdrawals_pending_review: int
    withdrawals_approved_unsent: int
    manual_deposits_proposed: int


def _events() -> Prefetch:
    return Prefetch("events", queryset=WithdrawalEvent.objects.select_related("actor").order_by("id"))


def withdrawal_status_parse(*, status: str | None) -> str | None:
    """Validate a ``?status=`` filter given by a client (400 on an unknown status)."""
    if status in (None, ""):
        return None
    if status not in Withdrawal.Status.values:
        raise DomainError(
            "Unknown withdrawal status.", code="validation_error", details={"allowed": list(Withdrawal.Status.values)}
        )
    return status


def withdrawals_for_user(
    *, user: User, currency: Currency | None = None, status: str | None = None
) -> QuerySet[Withdrawal]:
    qs = Withdrawal.objects.filter(user=user).select_related("currency").prefetch_related(_events())
    if currency is not None:
        qs = qs.filter(currency=currency)
    if status:
        qs = qs.filter(status=status)
    return qs


def withdrawals_for_review(*, status: str | None = None) -> QuerySet[Withdrawal]:
    qs = Withdrawal.objects.select_related("currency", "user").prefetch_related(_events())
    if status:
        qs = qs.filter(status=status)
    return qs


def withdrawal_get_for_review(*, withdrawal_id: int) -> Withdrawal:
    withdrawal = None
    if 0 < withdrawal_id <= MAX_ID:
        withdrawal = withdrawals_for_review().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("Withdrawal not found.")
    return withdrawal


def withdrawal_approvals(withdrawal: Withdrawal) -> list[WithdrawalEvent]:
    """The approvals given so far, oldest first (uses the prefetched events when present)."""
    return [e for e in withdrawal.events.all() if e.action == WithdrawalEvent.Action.APPROVE]


def pending_work() -> PendingWork:
    return PendingWork(
        withdrawals_pending_review=Withdrawal.objects.filter(status=Withdrawal.Status.PENDING_REVIEW).count(),
        withdrawals_approved_unsent=Withdrawal.objects.filter(status=Withdrawal.Status.APPROVED).count(),
        manual_deposits_proposed=ManualDeposit.objects.filter(status=ManualDeposit.Status.PROPOSED).count(),
    )


def withdrawal_totals_by_currency() -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(completed amounts, amounts + fees still locked) per currency id, summed in Python.

    The ledger audit's view of withdrawals: completed amounts left the exchange; every
    withdrawal in a holding status keeps ``amount + fee`` locked in its owner's wallet.
    """
    completed: dict[int, Decimal] = {}
    locked: dict[int, Decimal] = {}
    rows = Withdrawal.objects.filter(
        status__in=(Withdrawal.Status.COMPLETED, *Withdrawal.HOLDING_STATUSES)
    ).values_list("currency_id", "status", "amount", "fee")
    for currency_id, status, amount, fee in rows.iterator(chunk_size=5000):
        if status == Withdrawal.Status.COMPLETED:
            completed[currency_id] = completed.get(currency_id, Decimal(0)) + amount
        else:
            locked[currency_id] = locked.get(currency_id, Decimal(0)) + amount + fee
    return completed, locked
