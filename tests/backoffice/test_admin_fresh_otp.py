"""Money-moving admin decisions need a fresh one-time password; admin sessions end after inactivity."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from wallets.admin.withdrawals import FRESH_OTP_SESSION_KEY
from wallets.models import Withdrawal, WithdrawalEvent

from .helpers import admin_login, fresh_otp, request_withdrawal

pytestmark = pytest.mark.django_db


def _decide(client, withdrawal, name: str, **data):
    url = reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, name])
    return client.post(url, {"confirm": "yes", **data}, follow=True)


def _status(withdrawal) -> str:
    return Withdrawal.objects.get(pk=withdrawal.pk).status


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_approving_right_after_login_without_a_code_is_refused(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    response = _decide(client, withdrawal, "approve")

    assert "fresh_otp_required" in response.content.decode()
    assert _status(withdrawal) == "pending_review"
    assert not WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").exists()


def test_approving_with_a_wrong_code_is_refused(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    response = _decide(client, withdrawal, "approve", otp=_wrong(fresh_otp(officer)))

    assert "fresh_otp_required" in response.content.decode()
    assert _status(withdrawal) == "pending_review"


def test_approving_with_a_fresh_code_works_and_the_code_is_not_logged(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)
    code = fresh_otp(officer)

    _decide(client, withdrawal, "approve", otp=code, comment="ok")

    assert _status(withdrawal) == "approved"
    assert code not in LogEntry.objects.get(object_id=str(withdrawal.pk)).change_message


def test_marking_sent_needs_a_fresh_code_too(client, officer, officer2, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)
    _decide(client, withdrawal, "approve", otp=fresh_otp(officer))
    client.logout()
    admin_login(client, officer2)

    refused = _decide(client, withdrawal, "sent", txid="payout-1")
    assert "fresh_otp_required" in refused.content.decode()
    assert _status(withdrawal) == "approved"

    _decide(client, withdrawal, "sent", txid="payout-1", otp=fresh_otp(officer2))
    assert _status(withdrawal) == "completed"


def test_one_code_covers_the_next_minutes_then_a_new_one_is_needed(client, officer, trader, btc, settings):
    settings.ADMIN_FRESH_OTP_SECONDS = 300
    first, second, third = (request_withdrawal(trader, btc, "0.1") for _ in range(3))
    admin_login(client, officer)
    _decide(client, first, "approve", otp=fresh_otp(officer))

    _decide(client, second, "approve")
    assert _status(second) == "approved"

    session = client.session
    session[FRESH_OTP_SESSION_KEY] = time.time() - 301
    session.save()
    response = _decide(client, third, "approve")
    assert "fresh_otp_required" in response.content.decode()
    assert _status(third) == "pending_review"


def test_a_list_action_approval_needs_a_fresh_code(client, officer, trader, btc):
    a, b = request_withdrawal(trader, btc, "0.1"), request_withdrawal(trader, btc, "0.2")
    admin_login(client, officer)
    body = {"action": "decide_approve", "_selected_action": [a.pk, b.pk], "confirm": "yes"}

    client.post("/admin/wallets/withdrawal/", body)
    assert {_status(a), _status(b)} == {"pending_review"}

    client.post("/admin/wallets/withdrawal/", {**body, "otp": fresh_otp(officer)})
    assert {_status(a), _status(b)} == {"approved"}


def test_rejecting_needs_no_fresh_code(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    _decide(client, withdrawal, "reject", reason="name mismatch")

    assert _status(withdrawal) == "rejected"


def test_the_confirmation_page_asks_for_the_code(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    page = client.get(reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "approve"])).content.decode()

    assert 'name="otp"' in page
    assert 'autocomplete="one-time-code"' in page


def test_without_admin_otp_local_trials_need_no_code(client, officer, trader, btc, settings):
    settings.ADMIN_REQUIRE_OTP = False
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    _decide(client, withdrawal, "approve")

    assert _status(withdrawal) == "approved"


def test_the_admin_session_ends_after_an_hour_without_requests(client, officer, settings):
    assert settings.ADMIN_SESSION_SECONDS == 3600 == settings.SESSION_COOKIE_AGE
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    admin_login(client, officer)
    assert client.get("/admin/").status_code == 200
    session = Session.objects.get()
    assert timedelta(minutes=59) < session.expire_date - timezone.now() <= timedelta(hours=1)

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_each_request_extends_the_admin_session(client, officer):
    admin_login(client, officer)
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=5))

    client.get("/admin/")

    assert Session.objects.get().expire_date - timezone.now() > timedelta(minutes=59)
