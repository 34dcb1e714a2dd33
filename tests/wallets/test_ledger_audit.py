"""The audit passes on a consistent state and flags exactly the invariant a corruption breaks."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from markets.models import Currency, Market, Order, Trade
from tests.factories import MarketFactory, UserFactory, match_and_settle, run_matcher
from trading.services import order_cancel
from wallets.audit import ledger_audit
from wallets.manual_deposits import manual_deposit_approve, manual_deposit_propose
from wallets.models import Deposit, LedgerEntry, SettlementCursor, Wallet, Withdrawal
from wallets.withdrawals import withdrawal_approve, withdrawal_cancel, withdrawal_mark_sent

from .helpers import checks_disabled, deposit, place, withdraw

D = Decimal


def invariants(report) -> set[int]:
    return {b.invariant for b in report.breaches}


def test_consistent_trading_state_passes_with_expected_totals(trading_state):
    report = ledger_audit(wait_seconds=0)

    assert report.ok, [str(b) for b in report.breaches]
    rows = {s.currency: s for s in report.currencies}
    assert rows["USDT"].total_balance == rows["USDT"].credited_deposits == D("10000")
    assert rows["BTC"].total_balance == D("2")
    # alice's buy keeps 100 - 40 locked; bob's resting sell keeps 0.1.
    assert rows["USDT"].total_locked == rows["USDT"].expected_locked == D("60")
    assert rows["BTC"].total_locked == rows["BTC"].expected_locked == D("0.1")
    assert all(s.ok for s in report.currencies)


def test_empty_database_passes(db):
    assert ledger_audit(wait_seconds=0).ok


def test_canceled_order_releases_its_lock_after_settlement(trading_state):
    order_cancel(user_id=trading_state.alice.pk, order_id=trading_state.alice_buy.pk)
    match_and_settle(trading_state.market)

    report = ledger_audit(wait_seconds=0)
    assert report.ok, [str(b) for b in report.breaches]
    assert {s.currency: s.total_locked for s in report.currencies}["USDT"] == 0


def test_unsettled_trade_only_reports_settlement_lag(trading_state):
    """Locks of a trade the matcher wrote but settlement has not applied yet are still reserved."""
    s = trading_state
    carol = UserFactory()
    deposit(carol, s.market.base, "1")
    place(carol, s.market, Order.Side.SELL, price="100", quantity="0.5")
    run_matcher(s.market)
    assert Trade.objects.count() == 2

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {6}
    assert "settlement lagging on BTC-USDT" in report.breaches[0].message


def test_conservation_breach_when_a_credited_deposit_amount_changes(trading_state):
    Deposit.objects.filter(user=trading_state.bob).update(amount=D("3"))

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {1}
    assert [b.currency for b in report.breaches] == ["BTC"]
    assert not {s.currency: s for s in report.currencies}["BTC"].ok


def test_conservation_counts_only_credited_deposits(trading_state):
    Deposit.objects.filter(user=trading_state.alice).update(status=Deposit.Status.PENDING)

    assert invariants(ledger_audit(wait_seconds=0)) == {1}


def test_locked_above_balance_is_flagged(trading_state):
    """Ledger and reservation agree with the corrupt wallet, so only invariant 2 can catch it."""
    s = trading_state
    wallet = Wallet.objects.get(user=s.bob, currency=s.market.base)
    assert wallet.balance == D("1.6")
    lock_entry = LedgerEntry.objects.filter(wallet=wallet, reference=f"order:{s.bob_resting.pk}").get()
    with checks_disabled():
        Wallet.objects.filter(pk=wallet.pk).update(locked=D("1.7"))
        LedgerEntry.objects.filter(pk=lock_entry.pk).update(locked_change=D("1.7"), locked_after=D("1.7"))
        Order.objects.filter(pk=s.bob_resting.pk).update(locked_amount=D("1.7"))

        report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {2}
    assert f"wallet {wallet.pk}" in report.breaches[0].message


def test_locked_total_differs_from_open_reservations(trading_state):
    Order.objects.filter(pk=trading_state.alice_buy.pk).update(locked_amount=D("90"))

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {3}
    assert report.breaches[0].currency == "USDT"


def test_closed_and_settled_order_reserves_nothing(trading_state):
    """bob's filled sell is closed at or below the cursor: a bogus lock on it must not count."""
    Order.objects.filter(pk=trading_state.bob_sell.pk).update(locked_amount=D("5"))

    assert ledger_audit(wait_seconds=0).ok


def test_ledger_entry_with_wrong_balance_after_is_flagged(trading_state):
    entry = LedgerEntry.objects.filter(user=trading_state.alice).order_by("id").first()
    LedgerEntry.objects.filter(pk=entry.pk).update(balance_after=entry.balance_after + 1)

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {4}
    assert f"ledger entry {entry.pk}" in report.breaches[0].message


def test_ledger_entry_with_wrong_amount_is_flagged(trading_state):
    entry = LedgerEntry.objects.filter(user=trading_state.bob, kind="trade_fee").get()
    LedgerEntry.objects.filter(pk=entry.pk).update(amount=D(0))

    assert invariants(ledger_audit(wait_seconds=0)) == {4}


def test_wallet_balance_edited_outside_the_ledger_breaks_replay_and_conservation(trading_state):
    Wallet.objects.filter(user=trading_state.alice, currency=trading_state.market.quote).update(balance=D("20000"))

    assert invariants(ledger_audit(wait_seconds=0)) == {1, 4}


def test_filled_quantity_not_matching_trades_is_flagged(trading_state):
    Order.objects.filter(pk=trading_state.alice_buy.pk).update(filled_quantity=D("0.5"))

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {5}
    assert f"order {trading_state.alice_buy.pk}" in report.breaches[0].message


def test_trade_outside_the_limit_price_is_flagged(trading_state):
    Trade.objects.update(price=D("101"))

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {5}
    assert "outside buy order" in report.breaches[0].message


def test_filled_order_without_closure_is_flagged(trading_state):
    Order.objects.filter(pk=trading_state.bob_resting.pk).update(status=Order.Status.FILLED)

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {5}
    assert "no closed_sequence" in report.breaches[0].message


def test_fully_filled_order_still_resting_is_flagged(trading_state):
    Order.objects.filter(pk=trading_state.bob_sell.pk).update(status=Order.Status.OPEN)

    assert invariants(ledger_audit(wait_seconds=0)) == {5}


def test_self_trade_is_flagged(trading_state):
    Trade.objects.update(taker_user=trading_state.alice)

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {5}
    assert any("on both sides" in b.message for b in report.breaches)


def test_settlement_lagging_is_flagged_after_the_wait(trading_state):
    Market.objects.filter(pk=trading_state.market.pk).update(last_sequence=99)
    started = time.monotonic()

    report = ledger_audit(wait_seconds=0.3, poll_seconds=0.05)

    assert time.monotonic() - started >= 0.3
    assert invariants(report) == {6}
    assert "settlement lagging on BTC-USDT" in report.breaches[0].message


def test_settlement_ahead_of_matcher_is_flagged(trading_state):
    SettlementCursor.objects.filter(market=trading_state.market).update(settled_sequence=99)

    assert 6 in invariants(ledger_audit(wait_seconds=0))


@pytest.mark.django_db(transaction=True)
def test_audit_waits_for_settlement_to_catch_up():
    """Outside any test transaction: also runs the snapshot's SET TRANSACTION on PostgreSQL."""
    market = MarketFactory()
    Market.objects.filter(pk=market.pk).update(last_sequence=3)
    SettlementCursor.objects.create(market=market, settled_sequence=1)

    def settle_later():
        try:
            time.sleep(0.3)  # the subject: settlement catches up while the audit waits
            SettlementCursor.objects.filter(market=market).update(settled_sequence=3)
        finally:
            connection.close()

    worker = threading.Thread(target=settle_later)
    worker.start()
    try:
        report = ledger_audit(wait_seconds=10, poll_seconds=0.05)
    finally:
        worker.join()

    assert report.ok, [str(b) for b in report.breaches]


def test_command_prints_table_and_exits_zero_when_clean(trading_state):
    out = StringIO()

    call_command("audit_ledger", "--wait", "0", stdout=out)

    text = out.getvalue()
    header = text.splitlines()[0]
    for column in (
        "currency",
        "total balances",
        "credited deposits",
        "completed withdrawals",
        "total locked",
        "expected locked",
        "result",
    ):
        assert column in header
    assert any(
        line.startswith("USDT") and "10000" in line and line.rstrip().endswith("ok") for line in text.splitlines()
    )
    assert "All invariants hold." in text
    assert "BREACH" not in text


def test_command_lists_each_breach_and_exits_one(trading_state):
    Order.objects.filter(pk=trading_state.alice_buy.pk).update(filled_quote=D("1"))
    Deposit.objects.filter(user=trading_state.bob).update(amount=D("3"))
    out = StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_ledger", "--wait", "0", stdout=out)

    assert exit_info.value.code == 1
    lines = out.getvalue().splitlines()
    assert any(line.startswith("BTC") and line.rstrip().endswith("BREACH") for line in lines)
    breaches = [line for line in lines if line.startswith("BREACH")]
    assert len(breaches) == 2
    assert "[invariant 1]" in breaches[0]
    assert "[invariant 5]" in breaches[1]


def test_every_order_kind_through_the_real_pipeline_passes(trading_state):
    """Market buys by budget and by quantity, IOC remainders, cancels, self-trade prevention."""
    s = trading_state
    carol = UserFactory()
    deposit(carol, s.market.quote, "5000")
    deposit(carol, s.market.base, "3")
    place(carol, s.market, Order.Side.BUY, type=Order.Type.MARKET, quote_quantity="20")
    place(carol, s.market, Order.Side.BUY, type=Order.Type.MARKET, quantity="0.03")
    place(carol, s.market, Order.Side.SELL, price="100", quantity="0.2", time_in_force="IOC")
    resting = place(carol, s.market, Order.Side.SELL, price="120", quantity="1")
    match_and_settle(s.market)
    place(carol, s.market, Order.Side.BUY, price="120", quantity="0.5")  # self-trade: taker canceled
    order_cancel(user_id=carol.pk, order_id=resting.pk)
    place(s.bob, s.market, Order.Side.SELL, type=Order.Type.MARKET, quantity="0.3")
    match_and_settle(s.market)

    assert Trade.objects.count() > 3
    report = ledger_audit(wait_seconds=0)
    assert report.ok, [str(b) for b in report.breaches]


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True), UserFactory(is_staff=True)


def test_withdrawals_in_every_state_pass(trading_state, staff):
    """Pending ones reserve amount + fee; completed ones left the exchange, their fee stayed."""
    s = trading_state
    Currency.objects.filter(pk=s.market.quote_id).update(withdrawal_fee=D("1"), min_withdrawal=D("1"))
    usdt = Currency.objects.get(pk=s.market.quote_id)
    pending = withdraw(s.alice, usdt, "100")
    sent = withdraw(s.alice, usdt, "200")
    withdrawal_approve(actor=staff[0], withdrawal_id=sent.pk)
    withdrawal_mark_sent(actor=staff[0], withdrawal_id=sent.pk, txid="payout-1")
    canceled = withdraw(s.bob, Currency.objects.get(pk=s.market.base_id), "0.5")
    withdrawal_cancel(user=s.bob, withdrawal_id=canceled.pk)

    report = ledger_audit(wait_seconds=0)

    assert report.ok, [str(b) for b in report.breaches]
    row = {r.currency: r for r in report.currencies}["USDT"]
    assert row.completed_withdrawals == D("200")
    assert row.total_balance == D("10000") - D("200")
    assert row.expected_locked == D("60") + D("101")
    assert Withdrawal.objects.get(pk=pending.pk).status == "pending_review"


def test_completed_withdrawal_amount_changed_breaks_conservation(trading_state, staff):
    s = trading_state
    usdt = Currency.objects.get(pk=s.market.quote_id)
    sent = withdraw(s.alice, usdt, "200")
    withdrawal_approve(actor=staff[0], withdrawal_id=sent.pk)
    withdrawal_mark_sent(actor=staff[0], withdrawal_id=sent.pk, txid="payout-1")
    Withdrawal.objects.filter(pk=sent.pk).update(amount=D("150"))

    assert invariants(ledger_audit(wait_seconds=0)) == {1}


def test_pending_withdrawal_closed_without_unlock_breaks_locked_total(trading_state):
    s = trading_state
    pending = withdraw(s.alice, Currency.objects.get(pk=s.market.quote_id), "100")
    Withdrawal.objects.filter(pk=pending.pk).update(status=Withdrawal.Status.REJECTED)

    report = ledger_audit(wait_seconds=0)

    assert invariants(report) == {3}
    assert report.breaches[0].currency == "USDT"


def test_approved_manual_deposit_counts_as_credited(trading_state, staff):
    s = trading_state
    proposal = manual_deposit_propose(
        actor=staff[0], user=s.bob, currency=s.market.quote, amount=D("25"), reason="bank transfer 42"
    )
    manual_deposit_approve(actor=staff[1], manual_deposit_id=proposal.pk)

    report = ledger_audit(wait_seconds=0)

    assert report.ok, [str(b) for b in report.breaches]
    assert {r.currency: r for r in report.currencies}["USDT"].credited_deposits == D("10025")
