"""The one wallet service: every change of a balance or a lock goes through here.

Each change is written with its ledger entry in the caller's transaction, after the
wallet rows were locked in primary-key order (no deadlocks between concurrent callers).

After the transaction commits, ``WalletsChanged`` announces the pks of every wallet
it changed, once per transaction however many calls made the changes (the real-time
tier subscribes to push the new balances).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchange_site import events
from exchange_site.db import on_commit, rows_insert, rows_insert_text, rows_update, rows_update_values
from exchange_site.errors import DomainError
from exchange_site.events import WalletsChanged
from exchange_site.money import fmt
from markets.models import Currency

from .models import LedgerEntry, Wallet

ZERO = Decimal(0)


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    message = "Insufficient available balance."


def insufficient_funds(currency_id: int, available: Decimal) -> InsufficientFunds:
    """The refusal with the currency's code and the available amount in plain notation (the API's format)."""
    code = Currency.objects.filter(pk=currency_id).values_list("code", flat=True).first()
    return InsufficientFunds(details={"currency": code, "available": fmt(available)})


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
    rows = Wallet.objects.select_for_update().filter(user_id__in=user_ids, currency_id__in=currency_ids).order_by("pk")
    # Nearly always every wallet exists: one locking read. Otherwise create the missing
    # ones (a concurrent creator wins harmlessly) and lock again, still in pk order.
    locked = {(w.user_id, w.currency_id): w for w in rows}
    missing = wanted - locked.keys()
    if missing:
        Wallet.objects.bulk_create(
            [Wallet(user_id=u, currency_id=c) for u, c in sorted(missing)], ignore_conflicts=True
        )
        locked = {(w.user_id, w.currency_id): w for w in rows.all()}
    return {key: wallet for key, wallet in locked.items() if key in wanted}


class _Changed:
    """The wallets one transaction changed so far, announced by one after-commit callback."""

    __slots__ = ("callbacks", "wallet_ids")

    def __init__(self, callbacks: list) -> None:
        # The connection's list of after-commit callbacks this one was added to. Django
        # replaces that list on commit, rollback and savepoint rollback, so while it is
        # still the connection's list, our callback is still in it.
        self.callbacks = callbacks
        self.wallet_ids: set[int] = set()

    def announce(self) -> None:
        events.announce(WalletsChanged(wallet_ids=sorted(self.wallet_ids)))


_changed = threading.local()


def _note_changed(wallet_ids: Iterable[int]) -> None:
    """Remember wallets for the transaction's single after-commit announcement."""
    if not events.subscribed(WalletsChanged):
        return
    connection = transaction.get_connection()
    changed: _Changed | None = getattr(_changed, "current", None)
    if changed is None or changed.callbacks is not connection.run_on_commit:
        changed = _Changed(connection.run_on_commit)
        on_commit(changed.announce)
        _changed.current = changed
    changed.wallet_ids.update(wallet_ids)


def wallet_apply_changes(*, changes: Sequence[BalanceChange], announce: bool = True) -> dict[tuple[int, int], Wallet]:
    """Apply changes in order, each checked (0 <= locked <= balance), with its ledger entry.

    Raises ``InsufficientFunds`` (and the caller's transaction rolls back) when a change
    would take a wallet below zero or lock more than it holds. The changed wallets are
    announced (``WalletsChanged``) after commit unless ``announce`` is False
    (settlement announces its wallets itself, with its fills).
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
            raise insufficient_funds(change.currency_id, wallet.balance - wallet.locked)
        if balance >= settings.MONEY_LIMIT:
            # numeric(36, 18) would overflow on the update: a clear refusal, not a 500.
            raise DomainError("The balance would exceed the largest amount a wallet can hold.", code="validation_error")
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
    rows_update(Wallet, list(touched.values()), ["balance", "locked", "updated_at"])
    LedgerEntry.objects.bulk_create(entries)
    if announce:
        _note_changed(touched)
    return wallets


LEDGER_COLUMNS = (
    "wallet",
    "user",
    "currency",
    "kind",
    "amount",
    "locked_change",
    "balance_after",
    "locked_after",
    "reference",
    "created_at",
)


def wallet_apply_changes_bulk(
    *, changes: Iterable[BalanceChange | tuple], announce: bool = True
) -> dict[tuple[int, int], Wallet]:
    """``wallet_apply_changes`` for thousands of changes at once (settlement, bulk placement).

    Same contract: wallets locked in pk order, every change checked in order and
    written with its own ledger entry, one UPDATE per wallet, all in the caller's
    transaction. What differs is the cost: no model instance per ledger entry, and the
    entries go to PostgreSQL in one COPY. A change may be a ``BalanceChange`` or a plain
    tuple in its field order (settlement builds tuples: a frozen dataclass per line
    costs more than the rest of the loop).
    """
    rows = [tuple(c) if isinstance(c, tuple) else _change_tuple(c) for c in changes]
    if not rows:
        return {}
    wallets = wallets_lock(keys={(r[0], r[1]) for r in rows})
    now = timezone.now()
    # (user, currency) -> [wallet_id, balance, locked]
    state = {key: [w.pk, w.balance, w.locked] for key, w in wallets.items()}
    entries = []
    append = entries.append
    for user_id, currency_id, kind, amount, locked_change, reference in rows:
        current = state[(user_id, currency_id)]
        balance = current[1] + amount
        locked = current[2] + locked_change
        if balance < 0 or locked < 0 or locked > balance:
            raise insufficient_funds(currency_id, current[1] - current[2])
        current[1] = balance
        current[2] = locked
        append((current[0], user_id, currency_id, kind, amount, locked_change, balance, locked, reference, now))
    touched = [state[key] for key in {(r[0], r[1]) for r in rows}]
    rows_update_values(Wallet, ["balance", "locked", "updated_at"], [(b, lk, now, pk) for pk, b, lk in touched])
    _ledger_insert(entries, now)
    for key, wallet in wallets.items():
        _, wallet.balance, wallet.locked = state[key]
        wallet.updated_at = now
    if announce:
        _note_changed(pk for pk, _, _ in touched)
    return wallets


def _ledger_insert(entries: list[tuple], now: Any) -> None:
    """Write ledger rows in ``LEDGER_COLUMNS`` order: preformatted COPY lines on PostgreSQL."""
    stamp = now.isoformat()
    text = "".join(
        [f"{w}\t{u}\t{c}\t{k}\t{a}\t{lc}\t{b}\t{lk}\t{r}\t{stamp}\n" for w, u, c, k, a, lc, b, lk, r, _ in entries]
    )
    if not rows_insert_text(LedgerEntry, LEDGER_COLUMNS, text, len(entries)):
        rows_insert(LedgerEntry, LEDGER_COLUMNS, entries)


def _change_tuple(change: BalanceChange) -> tuple:
    return (change.user_id, change.currency_id, change.kind, change.amount, change.locked, change.reference)


# -- placement in one statement (PostgreSQL) ---------------------------------------

_lock_insert_sql: dict[tuple, str] = {}


def _lock_insert_statement(model: type, columns: tuple[str, ...]) -> str:
    """The statement of ``wallet_lock_inserting`` for ``model`` rows of ``columns`` (built once)."""
    key = (model, columns)
    sql = _lock_insert_sql.get(key)
    if sql is None:
        wallet, ledger, row_table = Wallet._meta.db_table, LedgerEntry._meta.db_table, model._meta.db_table
        row_columns = ", ".join(f'"{model._meta.get_field(c).column}"' for c in columns)
        ledger_columns = ", ".join(f'"{LedgerEntry._meta.get_field(c).column}"' for c in LEDGER_COLUMNS)
        placeholders = ", ".join(["%s"] * len(columns))
        # The wallet row is updated only while the funds are there (re-checked after any
        # concurrent writer commits: READ COMMITTED re-evaluates the WHERE on the new row
        # version), and the new row and its ledger entry exist only if it was.
        sql = _lock_insert_sql[key] = (
            f"WITH w AS (UPDATE {wallet} SET locked = locked + %s, updated_at = %s"
            " WHERE user_id = %s AND currency_id = %s AND locked + %s >= 0 AND locked + %s <= balance"
            " RETURNING id, balance, locked),"
            f" r AS (INSERT INTO {row_table} ({row_columns}) SELECT {placeholders} FROM w RETURNING id),"
            f" l AS (INSERT INTO {ledger} ({ledger_columns})"
            " SELECT w.id, %s, %s, %s, 0, %s, w.balance, w.locked, %s || r.id, %s FROM w, r)"
            " SELECT r.id, w.id, w.balance, w.locked FROM w, r"
        )
    return sql


def wallet_lock_inserting(
    *,
    user_id: int,
    currency_id: int,
    locked: Decimal,
    kind: str,
    model: type,
    row: dict[str, Any],
    reference_prefix: str,
    now: Any,
) -> int:
    """Lock ``locked`` of a wallet and insert the ``model`` row it is locked for, in one statement.

    The fast form of ``wallet_apply_changes`` for the commonest change there is (an order
    locking its funds): the wallet update, the new row (``row``: attname -> database
    value) and the ledger entry (reference ``reference_prefix`` + the new row's id,
    balance and locked after) are one PostgreSQL statement, so one round trip and
    atomic on its own. Same checks (0 <= locked <= balance), same ledger line. Outside
    a transaction it commits at once and ``WalletsChanged`` is announced then; inside
    one it runs in a savepoint and is announced after commit. Returns the new row's id;
    raises ``InsufficientFunds`` (nothing written) when the funds are not there.
    """
    columns = tuple(row)
    params = [locked, now, user_id, currency_id, locked, locked, *row.values()]
    params += [user_id, currency_id, kind, locked, reference_prefix, now]
    sql = _lock_insert_statement(model, columns)
    connection = transaction.get_connection()
    in_transaction = connection.in_atomic_block
    if in_transaction:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
    if found is None:
        available = (
            Wallet.objects.filter(user_id=user_id, currency_id=currency_id).values_list("balance", "locked").first()
        )
        raise insufficient_funds(currency_id, available[0] - available[1] if available else ZERO)
    row_id, wallet_id = found[0], found[1]
    if in_transaction:
        _note_changed([wallet_id])
    elif events.subscribed(WalletsChanged):
        events.announce(WalletsChanged(wallet_ids=[wallet_id]))
    return row_id
