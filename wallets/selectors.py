"""Reads of wallets, ledger entries and deposits, always scoped to one user."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from accounts.models import User
from exchange_site.errors import DomainError
from markets.models import Currency
from markets.selectors import symbol_valid
from markets.selectors_cached import market_by_symbol

from .models import Deposit, LedgerEntry, TraderPnl, Wallet

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BalanceRow:
    currency: str
    balance: Decimal
    locked: Decimal

    @property
    def available(self) -> Decimal:
        return self.balance - self.locked


def currency_get(*, code: str) -> Currency:
    """Resolve a currency code given by a client; an unknown code is the client's mistake (400)."""
    code = (code or "").strip().upper()
    currency = Currency.objects.filter(code=code).first() if 0 < len(code) <= 10 else None
    if currency is None:
        raise DomainError("Unknown currency.", code="validation_error", details={"currency": code[:20]})
    return currency


def _balances_sql() -> str:
    wallet, currency = Wallet._meta.db_table, Currency._meta.db_table
    return (
        f"SELECT c.code, w.balance, w.locked FROM {currency} c "
        f"LEFT JOIN {wallet} w ON w.currency_id = c.id AND w.user_id = %s ORDER BY c.code"
    )


def balances_for_user(*, user: User) -> list[BalanceRow]:
    """One row per existing currency, ordered by code; zeros where no wallet exists yet.

    On PostgreSQL one plain statement (numeric arrives as an exact Decimal, and the
    balances page is read far more than anything else of a trader's); elsewhere the ORM,
    whose converters make the database's values exact Decimals.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_balances_sql(), [user.pk])
            return [
                BalanceRow(currency=code, balance=balance, locked=locked)
                if balance is not None
                else BalanceRow(currency=code, balance=ZERO, locked=ZERO)
                for code, balance, locked in cursor.fetchall()
            ]
    wallets = {
        currency_id: (balance, locked)
        for currency_id, balance, locked in Wallet.objects.filter(user=user).values_list(
            "currency_id", "balance", "locked"
        )
    }
    rows = []
    for currency_id, code in Currency.objects.order_by("code").values_list("id", "code"):
        balance, locked = wallets.get(currency_id, (ZERO, ZERO))
        rows.append(BalanceRow(currency=code, balance=balance, locked=locked))
    return rows


def ledger_entries_for_user(*, user: User, currency: Currency | None = None) -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.filter(user=user).select_related("currency")
    if currency is not None:
        qs = qs.filter(currency=currency)
    return qs


def deposits_for_user(*, user: User, currency: Currency | None = None) -> QuerySet[Deposit]:
    qs = Deposit.objects.filter(user=user).select_related("currency")
    if currency is not None:
        qs = qs.filter(currency=currency)
    return qs


def pnl_for_user(*, user_id: int, market_symbol: str | None = None) -> QuerySet:
    """The user's realized PnL rows, one per market traded; ``validation_error`` for an unknown market."""
    rows = TraderPnl.objects.filter(user_id=user_id).select_related("market__quote").order_by("market__symbol")
    if market_symbol:
        market = market_by_symbol(symbol=market_symbol) if symbol_valid(market_symbol) else None
        if market is None:
            raise DomainError(
                f"Unknown market {market_symbol!r}.", code="validation_error", details={"market": market_symbol}
            )
        rows = rows.filter(market_id=market.pk)
    return rows
