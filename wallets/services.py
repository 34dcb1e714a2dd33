"""The one wallet service: every change of a balance or a lock goes through here.

Each change is written with its ledger entry in the caller's transaction, after the
wallet rows were locked in primary-key order (no deadlocks between concurrent callers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from exchange_site.errors import DomainError

from .models import LedgerEntry, Wallet

ZERO = Decimal(0)


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    message = "Insufficient available balance."


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One ledger line: ``amount`` changes the balance, ``locked`` the locked part."""

    user_id: int
    currency_id: int
    kind: str
    amount: Decimal = ZERO
    locked: Decimal = ZERO
    reference: str = ""


def wallets_lock(*, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Wallet]:
    """Lock (creating when missing) the wallets of ``(user_id, currency_id)`` pairs, in pk order."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("wallets_lock must run inside a transaction")
    wanted = set(keys)
    if not wanted:
        return {}
    user_ids = {u for u, _ in wanted}
    currency_ids = {c for _, c in wanted}
    existing = set(
        Wallet.objects.filter(user_id__in=user_ids, currency_id__in=currency_ids).values_list("user_id", "currency_id")
    )
    missing = wanted - existing
    if missing:
        Wallet.objects.bulk_create(
            [Wallet(user_id=u, currency_id=c) for u, c in sorted(missing)], ignore_conflicts=True
        )
    rows = Wallet.objects.select_for_update().filter(user_id__in=user_ids, currency_id__in=currency_ids).order_by("pk")
    return {(w.user_id, w.currency_id): w for w in rows if (w.user_id, w.currency_id) in wanted}


def wallet_apply_changes(*, changes: Sequence[BalanceChange]) -> dict[tuple[int, int], Wallet]:
    """Apply changes in order, each checked (0 <= locked <= balance), with its ledger entry.

    Raises ``InsufficientFunds`` (and the caller's transaction rolls back) when a change
    would take a wallet below zero or lock more than it holds.
    """
    wallets = wallets_lock(keys=((c.user_id, c.currency_id) for c in changes))
    now = timezone.now()
    entries: list[LedgerEntry] = []
    touched: dict[int, Wallet] = {}
    for change in changes:
        wallet = wallets[(change.user_id, change.currency_id)]
        balance = wallet.balance + change.amount
        locked = wallet.locked + change.locked
        if balance < 0 or locked < 0 or locked > balance:
            raise InsufficientFunds(
                details={"currency_id": change.currency_id, "available": str(wallet.balance - wallet.locked)}
            )
        wallet.balance = balance
        wallet.locked = locked
        touched[wallet.pk] = wallet
        entries.append(
            LedgerEntry(
                wallet=wallet,
                user_id=change.user_id,
                currency_id=change.currency_id,
                kind=change.kind,
                amount=change.amount,
                locked_change=change.locked,
                balance_after=balance,
                locked_after=locked,
                reference=change.reference,
                created_at=now,
            )
        )
    for wallet in touched.values():
        wallet.updated_at = now
    Wallet.objects.bulk_update(list(touched.values()), ["balance", "locked", "updated_at"])
    LedgerEntry.objects.bulk_create(entries)
    return wallets
