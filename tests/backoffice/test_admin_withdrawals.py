"""The withdrawal screens: waiting work first, everything needed to decide on one page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import MarketFactory, WithdrawalFactory
from wallets.models import Withdrawal, WithdrawalEvent
from wallets.withdrawals import withdrawal_approve

from .helpers import admin_login, balance, fresh_otp, make_trader, request_withdrawal

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/wallets/withdrawal/"


def _ids_in_list(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="_selected_action" value="(\d+)"', html)]


def test_pending_withdrawals_come_first_oldest_first(client, officer, trader, btc):
    old = request_withdrawal(trader, btc, "0.1")
    approved = request_withdrawal(trader, btc, "0.2")
    withdrawal_approve(actor=officer, withdrawal_id=approved.pk)
    new = request_withdrawal(trader, btc, "0.3")
    Withdrawal.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=5))
    admin_login(client, officer)

    ids = _ids_in_list(client.get(CHANGELIST).content.decode())

    assert ids == [old.pk, new.pk, approved.pk]


def test_the_withdrawal_page_shows_balances_ledger_earlier_withdrawals_and_history(
    client, officer, officer2, trader, btc
):
    earlier = request_withdrawal(trader, btc, "0.2")
    withdrawal = request_withdrawal(trader, btc, "1.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk, comment="first look ok")
    admin_login(client, officer2)

    page = client.get(reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk])).content.decode()

    assert "User&#x27;s balances" in page or "User's balances" in page
    assert "10" in page
    assert "1.7010" not in page  # amounts are shown normalised
    assert "1.701" in page  # locked: 0.2002 + 1.5005
    assert "withdrawal_lock" in page  # recent ledger
    assert reverse("admin:wallets_withdrawal_change", args=[earlier.pk]) in page  # earlier withdrawals
    assert "approval history" in page.lower()
    assert officer.email in page
    assert "first look ok" in page
    assert "1 of 2" in page
    assert 'id="decide-approve"' in page
    assert 'id="decide-reject"' in page
    assert 'id="decide-sent"' not in page


def test_approve_from_the_withdrawal_page_goes_through_a_confirmation(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)
    url = reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "approve"])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Approve this withdrawal?" in confirm.content
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "pending_review"

    response = client.post(url, {"confirm": "yes", "comment": "fine", "otp": fresh_otp(officer)})

    assert response.status_code == 302
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "approved"
    event = WithdrawalEvent.objects.get(withdrawal=withdrawal, action="approve")
    assert (event.actor_id, event.reason) == (officer.pk, "fine")


def test_a_second_approval_by_the_same_member_shows_an_error_and_changes_nothing(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "2")
    admin_login(client, officer)
    url = reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "approve"])
    client.post(url, {"confirm": "yes", "otp": fresh_otp(officer)})

    page = client.get(reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk])).content.decode()
    assert 'id="decide-approve"' not in page
    assert "You already decided" in page
    response = client.post(url, {"confirm": "yes"}, follow=True)

    assert "already_decided" in response.content.decode()
    assert WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").count() == 1


def test_reject_needs_a_reason_on_the_confirmation_page(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)
    url = reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "reject"])

    again = client.post(url, {"confirm": "yes", "reason": ""})
    assert again.status_code == 200
    assert b"This field is required" in again.content
    client.post(url, {"confirm": "yes", "reason": "mismatched name"})

    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "rejected"
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))


def test_list_actions_approve_reject_and_mark_sent_confirm_first(client, officer, trader, btc):
    a = request_withdrawal(trader, btc, "0.1")
    b = request_withdrawal(trader, btc, "0.2")
    admin_login(client, officer)

    confirm = client.post(CHANGELIST, {"action": "decide_approve", "_selected_action": [a.pk, b.pk]})
    assert confirm.status_code == 200
    assert b"Approve this withdrawal?" in confirm.content
    assert Withdrawal.objects.filter(status="approved").count() == 0
    client.post(
        CHANGELIST,
        {"action": "decide_approve", "_selected_action": [a.pk, b.pk], "confirm": "yes", "otp": fresh_otp(officer)},
    )
    assert Withdrawal.objects.filter(status="approved").count() == 2

    # One code covers the next decisions for a few minutes (ADMIN_FRESH_OTP_SECONDS).
    client.post(CHANGELIST, {"action": "decide_sent", "_selected_action": [a.pk], "confirm": "yes", "txid": "batch-1"})
    a.refresh_from_db()
    assert (a.status, a.txid) == ("completed", "batch-1")
    assert balance(trader, btc) == (Decimal("9.8995"), Decimal("0.2005"))


def test_the_admin_log_records_each_decision(client, officer, trader, btc):
    from django.contrib.admin.models import LogEntry

    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)
    client.post(
        reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "reject"]),
        {"confirm": "yes", "reason": "bad address"},
    )

    entry = LogEntry.objects.get(object_id=str(withdrawal.pk))
    assert entry.user_id == officer.pk
    assert "Reject" in entry.get_change_message()
    assert "bad address" in entry.get_change_message()


def test_the_index_shows_waiting_work_and_24h_volume(client, officer, trader, btc):
    from markets.models import Candle

    request_withdrawal(trader, btc, "0.5")
    market = MarketFactory(base=btc)
    Candle.objects.create(
        market=market,
        open_time=timezone.now().replace(second=0, microsecond=0),
        open=Decimal(100),
        high=Decimal(101),
        low=Decimal(99),
        close=Decimal(100),
        volume=Decimal("1.25"),
        quote_volume=Decimal("125"),
        trade_count=3,
    )
    admin_login(client, officer)

    page = client.get("/admin/").content.decode()

    assert 'class="pending-review-count">1<' in page
    assert "BTC-USDT" in page
    assert "1.25" in page
    assert "125" in page


def test_the_user_page_shows_wallets_orders_trades_and_withdrawals_read_only(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    page = client.get(reverse("admin:accounts_user_change", args=[trader.pk])).content.decode()

    assert "Wallets" in page
    assert "0.5005" in page
    assert "Open orders" in page
    assert "No open orders." in page
    assert "Recent trades" in page
    assert "No trades." in page
    assert reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk]) in page
    assert 'name="_save"' not in page  # view only


def test_withdrawal_changelist_of_10000_rows_stays_bounded(client, officer, btc, django_assert_max_num_queries):
    users = [make_trader(btc, "0", two_factor=False) for _ in range(20)]
    rows = [
        WithdrawalFactory.build(
            user=users[i % 20],
            currency=btc,
            amount=Decimal("0.01") * (i % 97 + 1),
            status=Withdrawal.Status.PENDING_REVIEW if i % 3 else "completed",
            required_approvals=1 + i % 2,
        )
        for i in range(10_000)
    ]
    Withdrawal.objects.bulk_create(rows, batch_size=2000)
    events = [
        WithdrawalEvent(withdrawal=w, actor=None, action="submit", from_status="requested", to_status="pending_review")
        for w in Withdrawal.objects.all()[:2000]
    ]
    WithdrawalEvent.objects.bulk_create(events, batch_size=2000)
    admin_login(client, officer)

    for url in (
        CHANGELIST,
        CHANGELIST + "?status__exact=pending_review",
        CHANGELIST + "?q=addr0000",
        "/admin/wallets/withdrawalevent/",
        "/admin/accounts/user/",
        "/admin/wallets/ledgerentry/",
    ):
        with django_assert_max_num_queries(25):
            response = client.get(url)
        assert response.status_code == 200, url
    assert len(_ids_in_list(client.get(CHANGELIST).content.decode())) == 50
