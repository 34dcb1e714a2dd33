"""Settlement applied in bulk: exactly once, in sequence, with every ledger entry.

The backlog is placed with ``orders_place_bulk`` (the benchmark's seeding path), matched
by the real matcher, settled by ``market_settle``; the ledger audit must accept it.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.selectors import fee_account
from markets.models import Order, Trade
from tests.factories import MarketFactory, UserFactory, run_matcher
from trading.services import OrderRejected, orders_place_bulk
from wallets.audit import ledger_audit
from wallets.models import LedgerEntry, SettlementCursor, Wallet
from wallets.services import BalanceChange, InsufficientFunds, wallet_apply_changes_bulk
from wallets.settlement import market_settle, market_settle_all
from wallets.tasks import settle_market

from .helpers import deposit

pytestmark = pytest.mark.django_db
BUY, SELL = Order.Side.BUY, Order.Side.SELL


def _state(market_id: int) -> tuple:
    wallets = sorted(Wallet.objects.values_list("pk", "balance", "locked"))
    ledger = list(LedgerEntry.objects.order_by("id").values_list("id", "wallet_id", "amount", "locked_change"))
    cursor = SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
    return wallets, ledger, cursor


@pytest.fixture
def crossed_market():
    """Six traders, 60 crossing orders placed in bulk and matched (not yet settled)."""
    market = MarketFactory()
    fee_account()
    buyers, sellers = [UserFactory() for _ in range(3)], [UserFactory() for _ in range(3)]
    for user in buyers:
        deposit(user, market.quote, "100000")
    for user in sellers:
        deposit(user, market.base, "100")
    orders = []
    for i in range(60):
        side = BUY if i % 2 == 0 else SELL
        user = (buyers if side == BUY else sellers)[i % 3]
        orders.append((user.pk, side, D("100") + D(i % 7 - 3), D("0.1") * (1 + i % 4)))
    ids = orders_place_bulk(market=market, orders=orders)
    assert len(ids) == 60
    run_matcher(market)
    return market


def test_settling_the_same_range_again_changes_nothing(crossed_market):
    market = crossed_market
    market.refresh_from_db()
    assert Trade.objects.filter(market=market).exists()
    # Small runs, so the range is applied over several transactions.
    while market_settle(market_id=market.pk, max_sequences=7) is not None:
        pass
    settled = _state(market.pk)
    assert settled[2] == market.last_sequence

    assert market_settle(market_id=market.pk) is None
    assert market_settle_all(market_id=market.pk) == 0
    settle_market(market.pk)  # the Celery task body, as a duplicate trigger runs it
    assert _state(market.pk) == settled
    assert ledger_audit(wait_seconds=0).ok


def test_a_run_that_catches_up_is_the_task_s_only_transaction(crossed_market):
    market = crossed_market
    market.refresh_from_db()
    SettlementCursor.objects.get_or_create(market=market)  # as after the market's first run
    with CaptureQueriesContext(connection) as queries:
        assert market_settle_all(market_id=market.pk) == 1
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len([sql for sql in statements if sql.startswith('SELECT "wallets_settlementcursor"')]) == 1
    # Cursor and market, trades, closures, fee account, wallets, their update, the
    # ledger COPY, PnL read and upsert, the cursor update: whatever the run's size (and
    # here two more: the traders' first wallets in the other currency are created).
    assert len(statements) <= 13, [sql[:80] for sql in statements]
    assert SettlementCursor.objects.get(market=market).settled_sequence == market.last_sequence
    assert ledger_audit(wait_seconds=0).ok


def test_bulk_settlement_writes_one_ledger_entry_per_balance_change(crossed_market):
    market = crossed_market
    market_settle_all(market_id=market.pk)
    trades = list(Trade.objects.filter(market=market))
    refs = {f"trade:{t.pk}" for t in trades}
    entries = LedgerEntry.objects.filter(reference__in=refs)
    fees = sum((t.maker_fee != 0) + (t.taker_fee != 0) for t in trades)
    assert entries.filter(kind=LedgerEntry.Kind.TRADE).count() == 4 * len(trades)
    assert entries.filter(kind=LedgerEntry.Kind.TRADE_FEE).count() == fees
    assert entries.filter(kind=LedgerEntry.Kind.FEE_INCOME).count() == fees
    report = ledger_audit(wait_seconds=0)
    assert report.ok, [str(b) for b in report.breaches]


def test_bulk_placement_locks_each_order_with_its_own_ledger_entry():
    market = MarketFactory()
    user = UserFactory()
    deposit(user, market.quote, "1000")
    ids = orders_place_bulk(market=market, orders=[(user.pk, BUY, D("100"), D("1")), (user.pk, BUY, D("50"), D("2"))])
    locks = dict(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).values_list("reference", "locked_change"))
    assert locks == {f"order:{ids[0]}": D("100"), f"order:{ids[1]}": D("100")}
    wallet = Wallet.objects.get(user=user, currency=market.quote)
    assert (wallet.balance, wallet.locked) == (D("1000"), D("200"))
    assert ledger_audit(wait_seconds=0).ok


def test_bulk_placement_is_all_or_nothing():
    market = MarketFactory()
    user = UserFactory()
    deposit(user, market.quote, "150")
    with pytest.raises(InsufficientFunds):
        orders_place_bulk(market=market, orders=[(user.pk, BUY, D("100"), D("1")), (user.pk, BUY, D("100"), D("1"))])
    with pytest.raises(OrderRejected):
        orders_place_bulk(market=market, orders=[(user.pk, BUY, D("100"), D("1")), (user.pk, BUY, D("-1"), D("1"))])
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_LOCK).exists()
    wallet = Wallet.objects.get(user=user, currency=market.quote)
    assert (wallet.balance, wallet.locked) == (D("150"), D("0"))


def test_bulk_wallet_changes_are_checked_in_order_and_replay_from_the_ledger():
    from django.db import transaction

    market = MarketFactory()
    user = UserFactory()
    deposit(user, market.quote, "10")
    kind = LedgerEntry.Kind.ORDER_LOCK
    with transaction.atomic():
        wallet_apply_changes_bulk(
            changes=[
                BalanceChange(user.pk, market.quote_id, kind, D("0"), D("6"), "a"),
                (user.pk, market.quote_id, kind, D("0"), D("-6"), "b"),
                (user.pk, market.quote_id, kind, D("0"), D("10"), "c"),
                (user.pk, market.quote_id, kind, D("0"), D("-10"), "d"),
            ]
        )
    steps = list(
        LedgerEntry.objects.filter(kind=kind).order_by("id").values_list("reference", "balance_after", "locked_after")
    )
    assert steps == [("a", D("10"), D("6")), ("b", D("10"), D("0")), ("c", D("10"), D("10")), ("d", D("10"), D("0"))]
    # Each change is checked against the running balance, not the batch's net.
    with pytest.raises(InsufficientFunds), transaction.atomic():
        wallet_apply_changes_bulk(
            changes=[
                (user.pk, market.quote_id, kind, D("0"), D("1"), "x"),
                (user.pk, market.quote_id, kind, D("0"), D("-11"), "y"),
            ]
        )
    assert LedgerEntry.objects.filter(kind=kind).count() == 4
    assert ledger_audit(wait_seconds=0).ok
