"""A halted market matches nothing: queued orders wait (or are canceled), cancels still go through."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from markets.models import Order, SettingChange, Trade
from markets.services_ops import market_halt, market_resume
from tests.factories import match_and_settle
from tests.trading.helpers import balance, place
from wallets.audit import ledger_audit
from wallets.incidents import ledger_watch
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


def assert_audit_clean() -> None:
    report = ledger_audit(wait_seconds=0)
    assert report.ok, report.breaches


def test_orders_queued_before_a_halt_do_not_match_until_resume_then_in_order(market, traders):
    alice, bob, ca, cb = traders
    place(cb, side="sell", type="limit", price="100", quantity="1")
    match_and_settle(market)
    first = place(ca, side="buy", type="limit", price="100", quantity="1")
    second = place(ca, side="buy", type="limit", price="100", quantity="1")

    market_halt(market_id=market.pk)
    match_and_settle(market)

    assert not Trade.objects.exists()
    assert set(Order.objects.filter(pk__in=[first["id"], second["id"]]).values_list("status", flat=True)) == {"new"}

    market_resume(market_id=market.pk)
    match_and_settle(market)

    trade = Trade.objects.get()
    assert trade.taker_order_id == first["id"]
    assert Order.objects.get(pk=first["id"]).status == "filled"
    assert Order.objects.get(pk=second["id"]).status == "open"
    assert Order.objects.get(pk=first["id"]).sequence < Order.objects.get(pk=second["id"]).sequence
    assert_audit_clean()


def test_owners_cancel_resting_and_queued_orders_while_halted(market, traders):
    alice, bob, ca, cb = traders
    resting = place(cb, side="sell", type="limit", price="100", quantity="2")
    match_and_settle(market)
    queued = place(ca, side="buy", type="limit", price="100", quantity="1")
    market_halt(market_id=market.pk)

    assert cb.delete(f"/api/v1/orders/{resting['id']}").status_code == 202
    assert ca.delete(f"/api/v1/orders/{queued['id']}").status_code == 202
    match_and_settle(market)

    assert Order.objects.get(pk=resting["id"]).status == "canceled"
    assert Order.objects.get(pk=queued["id"]).status == "canceled"
    assert not Trade.objects.exists()
    assert balance(bob, market.base) == (D("10"), D("0"))
    assert balance(alice, market.quote) == (D("100000"), D("0"))
    assert_audit_clean()


def test_halt_with_cancel_cancels_the_queued_orders_and_releases_their_funds(market, traders, make_trader):
    alice, bob, ca, cb = traders
    resting = place(cb, side="sell", type="limit", price="100", quantity="1")
    match_and_settle(market)
    queued = place(ca, side="buy", type="limit", price="100", quantity="1")
    assert balance(alice, market.quote) == (D("100000"), D("100"))
    operator = make_trader(is_staff=True)

    market_halt(market_id=market.pk, actor=operator, reason="exchange maintenance", cancel_queued=True)
    match_and_settle(market)

    order = Order.objects.get(pk=queued["id"])
    assert (order.status, order.cancel_reason) == ("canceled", "market_halted")
    assert balance(alice, market.quote) == (D("100000"), D("0"))
    # The resting order is not a queued one: it stays for its owner to cancel.
    assert Order.objects.get(pk=resting["id"]).status == "open"
    assert not Trade.objects.exists()
    event = SettingChange.objects.get(market=market)
    assert (event.actor, event.field, event.before, event.after) == (operator, "status", "open", "halted")
    assert "1 queued order(s) canceled" in event.reason
    assert "exchange maintenance" in event.reason
    assert_audit_clean()


def test_the_ledger_watch_halt_stops_matching(market, traders):
    alice, bob, ca, cb = traders
    place(cb, side="sell", type="limit", price="100", quantity="1")
    match_and_settle(market)
    queued = place(ca, side="buy", type="limit", price="100", quantity="1")
    wallet = Wallet.objects.get(user=bob, currency=market.base)
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + 1)

    ledger_watch(wait_seconds=0)
    market.refresh_from_db()
    assert market.status == "halted"
    match_and_settle(market)

    assert Order.objects.get(pk=queued["id"]).status == "new"
    assert not Trade.objects.exists()
    event = SettingChange.objects.get(market=market)
    assert event.actor is None
    assert event.reason.startswith("ledger incident ")
    # Investigated and repaired by people; then the market resumes and the order matches.
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance)
    market_resume(market_id=market.pk)
    match_and_settle(market)
    assert Order.objects.get(pk=queued["id"]).status == "filled"
    assert_audit_clean()
