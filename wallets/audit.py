"""The ledger audit: every invariant of DESIGN.md checked over one consistent snapshot.

Rows are streamed with ``values_list`` and aggregated in Python (money is never summed
in SQL: SQLite stores it as text), a fixed number of queries per market, none per row.
Reused by ``manage.py audit_ledger`` and, later, by a periodic task.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from django.db import transaction
from django.db.models import QuerySet

from exchange_site.money import fmt
from markets.models import Currency, Market, Order, Trade

from .models import Deposit, LedgerEntry, SettlementCursor, Wallet, Withdrawal

ZERO = Decimal(0)
CHUNK = 5000
# Exact sums of numeric(36, 18) values need more than the default 28 digits.
SUM_PRECISION = 100
# Beyond this many breaches only the count grows: the report stays printable.
MAX_BREACHES = 10_000


@dataclass(frozen=True, slots=True)
class Breach:
    invariant: int
    message: str
    currency: str | None = None

    def __str__(self) -> str:
        return f"[invariant {self.invariant}] {self.message}"


@dataclass(slots=True)
class CurrencySummary:
    currency: str
    total_balance: Decimal = ZERO
    credited_deposits: Decimal = ZERO
    completed_withdrawals: Decimal = ZERO
    total_locked: Decimal = ZERO
    expected_locked: Decimal = ZERO
    ok: bool = True


@dataclass(slots=True)
class AuditReport:
    currencies: list[CurrencySummary] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    breach_count: int = 0

    @property
    def ok(self) -> bool:
        return self.breach_count == 0

    def add(self, invariant: int, message: str, currency: str | None = None) -> None:
        self.breach_count += 1
        if len(self.breaches) < MAX_BREACHES:
            self.breaches.append(Breach(invariant, message, currency))


def ledger_audit(*, wait_seconds: float = 10, poll_seconds: float = 0.2) -> AuditReport:
    """Wait (bounded) for settlement to catch up, then check every invariant in one snapshot."""
    report = AuditReport()
    _wait_for_settlement(report, wait_seconds=wait_seconds, poll_seconds=poll_seconds)
    # Inside a caller's transaction (tests) the snapshot is the caller's. On SQLite the
    # transaction is BEGIN IMMEDIATE, so writers simply wait for the audit to finish.
    outermost = not transaction.get_connection().in_atomic_block
    with transaction.atomic(), localcontext() as ctx:
        ctx.prec = SUM_PRECISION
        connection = transaction.get_connection()
        if outermost and connection.vendor == "postgresql":
            # Must be the transaction's first statement; every later read sees one snapshot.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        _audit_snapshot(report)
    report.breaches.sort(key=lambda b: b.invariant)
    return report


def _wait_for_settlement(report: AuditReport, *, wait_seconds: float, poll_seconds: float) -> None:
    """Invariant 6: settlement reaches the matcher's sequence seen at the start, within the wait."""
    targets = {mid: (symbol, seq) for mid, symbol, seq in Market.objects.values_list("id", "symbol", "last_sequence")}
    deadline = time.monotonic() + max(wait_seconds, 0)
    while True:
        settled = dict(SettlementCursor.objects.values_list("market_id", "settled_sequence"))
        behind = {mid: v for mid, v in targets.items() if settled.get(mid, 0) < v[1]}
        remaining = deadline - time.monotonic()
        if not behind or remaining <= 0:
            break
        time.sleep(min(poll_seconds, remaining))
    for mid, (symbol, target) in sorted(behind.items(), key=lambda kv: kv[1][0]):
        report.add(
            6,
            f"settlement lagging on {symbol}: settled_sequence {settled.get(mid, 0)} < last_sequence {target} "
            f"after waiting {wait_seconds:g}s",
        )


def _audit_snapshot(report: AuditReport) -> None:
    codes: dict[int, str] = dict(Currency.objects.order_by("code").values_list("id", "code"))
    summaries = {cid: CurrencySummary(code) for cid, code in codes.items()}

    wallets = _check_wallets(report, codes, summaries)
    _check_ledger_replay(report, codes, wallets)
    del wallets

    for cid, amount in _credited_deposits_by_currency().items():
        summaries[cid].credited_deposits += amount
    for cid, amount in _completed_withdrawals_by_currency().items():
        summaries[cid].completed_withdrawals += amount
    for cid, amount in _pending_withdrawal_locks_by_currency().items():
        summaries[cid].expected_locked += amount

    settled = dict(SettlementCursor.objects.values_list("market_id", "settled_sequence"))
    markets = Market.objects.order_by("symbol").values_list("id", "symbol", "base_id", "quote_id", "last_sequence")
    for market_id, symbol, base_id, quote_id, last_sequence in markets:
        settled_sequence = settled.get(market_id, 0)
        if settled_sequence > last_sequence:
            report.add(6, f"{symbol}: settled_sequence {settled_sequence} is ahead of last_sequence {last_sequence}")
        reserved = _check_market_orders(report, market_id=market_id, symbol=symbol, settled_sequence=settled_sequence)
        summaries[quote_id].expected_locked += reserved["buy"]
        summaries[base_id].expected_locked += reserved["sell"]

    for s in summaries.values():
        expected_total = s.credited_deposits - s.completed_withdrawals
        if s.total_balance != expected_total:
            report.add(
                1,
                f"{s.currency}: wallet balances {fmt(s.total_balance)} != credited deposits "
                f"{fmt(s.credited_deposits)} - completed withdrawals {fmt(s.completed_withdrawals)} "
                f"(difference {fmt(s.total_balance - expected_total)})",
                s.currency,
            )
        if s.total_locked != s.expected_locked:
            report.add(
                3,
                f"{s.currency}: wallets lock {fmt(s.total_locked)} but open orders and withdrawals reserve "
                f"{fmt(s.expected_locked)} (difference {fmt(s.total_locked - s.expected_locked)})",
                s.currency,
            )
    flagged = {b.currency for b in report.breaches if b.currency}
    report.currencies = list(summaries.values())
    for s in report.currencies:
        s.ok = s.currency not in flagged


def _check_wallets(
    report: AuditReport, codes: dict[int, str], summaries: dict[int, CurrencySummary]
) -> dict[int, tuple[int, int, Decimal, Decimal]]:
    """Invariant 2, and the per-currency totals; returns wallet_id -> (user, currency, balance, locked)."""
    wallets: dict[int, tuple[int, int, Decimal, Decimal]] = {}
    rows = Wallet.objects.order_by("id").values_list("id", "user_id", "currency_id", "balance", "locked")
    for wallet_id, user_id, currency_id, balance, locked in rows.iterator(chunk_size=CHUNK):
        wallets[wallet_id] = (user_id, currency_id, balance, locked)
        summary = summaries[currency_id]
        summary.total_balance += balance
        summary.total_locked += locked
        if not ZERO <= locked <= balance:
            report.add(
                2,
                f"wallet {wallet_id} (user {user_id}, {codes[currency_id]}): locked {fmt(locked)} "
                f"outside 0..balance {fmt(balance)}",
                codes[currency_id],
            )
    return wallets


def _check_ledger_replay(
    report: AuditReport, codes: dict[int, str], wallets: dict[int, tuple[int, int, Decimal, Decimal]]
) -> None:
    """Invariant 4: walking each wallet's entries by id reproduces every step and the final row."""
    running: dict[int, list[Decimal]] = {}
    reported: set[int] = set()
    rows = LedgerEntry.objects.order_by("id").values_list(
        "id", "wallet_id", "user_id", "currency_id", "amount", "locked_change", "balance_after", "locked_after"
    )
    for entry_id, wallet_id, user_id, currency_id, amount, locked_change, balance_after, locked_after in rows.iterator(
        chunk_size=CHUNK
    ):
        totals = running.setdefault(wallet_id, [ZERO, ZERO])
        totals[0] += amount
        totals[1] += locked_change
        if wallet_id in reported:
            continue
        owner, wallet_currency, _, _ = wallets[wallet_id]
        if (user_id, currency_id) != (owner, wallet_currency):
            reported.add(wallet_id)
            report.add(
                4,
                f"ledger entry {entry_id} names another user or currency than its wallet {wallet_id}",
                codes[wallet_currency],
            )
        elif balance_after != totals[0] or locked_after != totals[1]:
            reported.add(wallet_id)
            report.add(
                4,
                f"ledger entry {entry_id} of wallet {wallet_id}: balance_after/locked_after "
                f"{fmt(balance_after)}/{fmt(locked_after)} but the replay gives {fmt(totals[0])}/{fmt(totals[1])}",
                codes[wallet_currency],
            )
    for wallet_id, (user_id, currency_id, balance, locked) in wallets.items():
        replay_balance, replay_locked = running.get(wallet_id, (ZERO, ZERO))
        if replay_balance != balance or replay_locked != locked:
            report.add(
                4,
                f"wallet {wallet_id} (user {user_id}, {codes[currency_id]}): balance/locked "
                f"{fmt(balance)}/{fmt(locked)} but the ledger sums to {fmt(replay_balance)}/{fmt(replay_locked)}",
                codes[currency_id],
            )


def _sum_by_currency(rows: QuerySet) -> dict[int, Decimal]:
    """Sum ``(currency_id, amount, ...)`` rows per currency in Python: exact, where SQLite's SUM is a float."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for currency_id, *amounts in rows.iterator(chunk_size=CHUNK):
        totals[currency_id] += sum(amounts, ZERO)
    return totals


def _credited_deposits_by_currency() -> dict[int, Decimal]:
    return _sum_by_currency(Deposit.objects.filter(status=Deposit.Status.CREDITED).values_list("currency_id", "amount"))


def _completed_withdrawals_by_currency() -> dict[int, Decimal]:
    """Amounts that left the exchange (their fees stay in the fee account's wallet)."""
    completed = Withdrawal.objects.filter(status=Withdrawal.Status.COMPLETED)
    return _sum_by_currency(completed.values_list("currency_id", "amount"))


def _pending_withdrawal_locks_by_currency() -> dict[int, Decimal]:
    """What unfinished withdrawals keep locked: amount + fee until completed, rejected or canceled."""
    holding = Withdrawal.objects.filter(status__in=Withdrawal.HOLDING_STATUSES)
    return _sum_by_currency(holding.values_list("currency_id", "amount", "fee"))


_LIMITED = (Order.Type.LIMIT, Order.Type.STOP_LIMIT)


def _check_market_orders(
    report: AuditReport, *, market_id: int, symbol: str, settled_sequence: int
) -> dict[str, Decimal]:
    """Invariant 5 for one market's orders and trades; returns its open reservations by side.

    A reservation is the order's ``locked_amount`` minus what settled trades consumed
    (quote for buys, base for sells), and nothing once settlement applied its closure.
    """
    orders = _market_orders(market_id)
    fills = _check_trades(report, market_id=market_id, symbol=symbol, settled_sequence=settled_sequence, orders=orders)
    return _check_orders(report, symbol=symbol, settled_sequence=settled_sequence, orders=orders, fills=fills)


def _market_orders(market_id: int) -> dict[int, tuple]:
    """Every order of the market: order_id -> (user_id, side, type, price, quantity, filled_quantity, ...)."""
    return {
        row[0]: row[1:]
        for row in Order.objects.filter(market_id=market_id)
        .values_list(
            "id",
            "user_id",
            "side",
            "type",
            "price",
            "quantity",
            "filled_quantity",
            "filled_quote",
            "locked_amount",
            "status",
            "closed_sequence",
            "amended_at",
        )
        .iterator(chunk_size=CHUNK)
    }


def _check_trades(
    report: AuditReport, *, market_id: int, symbol: str, settled_sequence: int, orders: dict[int, tuple]
) -> dict[int, list[Decimal]]:
    """Each trade matches its two orders (owners, side, limit price); returns what each order's trades add up to."""
    # order_id -> [quantity, quote, settled quantity, settled quote]
    fills: dict[int, list[Decimal]] = {}
    trades = Trade.objects.filter(market_id=market_id).values_list(
        "id",
        "sequence",
        "maker_order_id",
        "taker_order_id",
        "maker_user_id",
        "taker_user_id",
        "taker_side",
        "price",
        "quantity",
        "quote_quantity",
    )
    for (
        trade_id,
        sequence,
        maker_id,
        taker_id,
        maker_user,
        taker_user,
        taker_side,
        price,
        qty,
        quote,
    ) in trades.iterator(chunk_size=CHUNK):
        if maker_user == taker_user:
            report.add(5, f"{symbol} trade {trade_id}: user {maker_user} is on both sides")
        for order_id, user_id, role in ((maker_id, maker_user, "maker"), (taker_id, taker_user, "taker")):
            order = orders.get(order_id)
            if order is None:
                report.add(5, f"{symbol} trade {trade_id}: {role} order {order_id} belongs to another market")
                continue
            o_user, o_side, o_type, o_price = order[0], order[1], order[2], order[3]
            # An amended order's earlier trades were made at the limit it had then.
            limited = o_type in _LIMITED and order[-1] is None
            if o_user != user_id:
                report.add(5, f"{symbol} trade {trade_id}: {role} user {user_id} does not own order {order_id}")
            if role == "taker" and o_side != taker_side:
                report.add(5, f"{symbol} trade {trade_id}: taker_side {taker_side} but taker order is a {o_side}")
            if (
                limited
                and o_price is not None
                and ((o_side == Order.Side.BUY and price > o_price) or (o_side == Order.Side.SELL and price < o_price))
            ):
                report.add(
                    5,
                    f"{symbol} trade {trade_id}: price {fmt(price)} outside {o_side} order {order_id}'s "
                    f"limit {fmt(o_price)}",
                )
            f = fills.setdefault(order_id, [ZERO, ZERO, ZERO, ZERO])
            f[0] += qty
            f[1] += quote
            if sequence <= settled_sequence:
                f[2] += qty
                f[3] += quote
    return fills


def _check_orders(
    report: AuditReport,
    *,
    symbol: str,
    settled_sequence: int,
    orders: dict[int, tuple],
    fills: dict[int, list[Decimal]],
) -> dict[str, Decimal]:
    """Each order's fills equal its trades and its status fits them; returns the open reservations by side."""
    reserved = {Order.Side.BUY.value: ZERO, Order.Side.SELL.value: ZERO}
    for order_id, order in orders.items():
        _, side, _, _, quantity, filled_quantity, filled_quote, locked_amount, status, closed_sequence, _ = order
        qty, quote, settled_qty, settled_quote = fills.get(order_id, (ZERO, ZERO, ZERO, ZERO))
        if filled_quantity != qty or filled_quote != quote:
            report.add(
                5,
                f"{symbol} order {order_id}: filled {fmt(filled_quantity)}/{fmt(filled_quote)} but its trades "
                f"sum to {fmt(qty)}/{fmt(quote)}",
            )
        if status == Order.Status.FILLED and closed_sequence is None:
            report.add(5, f"{symbol} order {order_id}: filled but has no closed_sequence")
        if quantity is not None and status in Order.OPEN_STATUSES and filled_quantity >= quantity:
            report.add(5, f"{symbol} order {order_id}: fully filled but still {status}")
        if quantity is not None and filled_quantity > quantity:
            report.add(5, f"{symbol} order {order_id}: filled {fmt(filled_quantity)} beyond quantity {fmt(quantity)}")
        if closed_sequence is not None and closed_sequence <= settled_sequence:
            continue
        remaining = locked_amount - (settled_quote if side == Order.Side.BUY else settled_qty)
        if remaining < 0:
            report.add(3, f"{symbol} order {order_id}: settled trades consumed more than its lock {fmt(locked_amount)}")
        reserved[side] += remaining
    return reserved
