"""Trader emails: NoticeDue is mailed after commit by a Celery task that retries; requests never wait or fail on it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail

from accounts.notices import notice_email_send
from accounts.selectors import two_factor_enabled
from accounts.services import two_factor_disable
from accounts.two_factor_resets import two_factor_reset_approve, two_factor_reset_propose
from exchange_site.events import NoticeDue, NoticeKind, announce_on_commit
from tests.factories import PASSWORD, UserFactory
from tests.mail import FLAKY, FlakyBackend, eager_tasks
from tests.otp import fresh_otp

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _eager():
    with eager_tasks():
        yield


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = FLAKY
    FlakyBackend.failures, FlakyBackend.attempts = 0, 0
    yield FlakyBackend
    FlakyBackend.failures, FlakyBackend.attempts = 0, 0


def test_notice_is_mailed_only_after_commit(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        announce_on_commit(NoticeDue(user_id=user.pk, kind=NoticeKind.PASSWORD_CHANGED, details={}))
        assert mail.outbox == []
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "password" in mail.outbox[0].subject.lower()


def test_every_kind_has_a_template_naming_its_details():
    user = UserFactory()
    details = {"amount": "1.5", "currency": "BTC", "address": "bc1qdestination0001", "withdrawal_id": "7"}
    for kind in NoticeKind:
        assert notice_email_send(user_id=user.pk, kind=str(kind), details=details)
    assert len(mail.outbox) == len(NoticeKind)
    withdrawal_mail = next(m for m in mail.outbox if m.subject.endswith("Withdrawal requested"))
    assert "1.5 BTC" in withdrawal_mail.body
    assert "bc1qdestination0001" in withdrawal_mail.body


def test_details_outside_the_allowed_set_are_never_mailed():
    user = UserFactory()
    notice_email_send(
        user_id=user.pk,
        kind=NoticeKind.TWO_FACTOR_CHANGED,
        details={"change": "enabled", "otp": "123456", "secret": "JBSWY3DPEHPK3PXP"},
    )
    body = mail.outbox[0].body
    assert "enabled" in body
    assert "123456" not in body
    assert "JBSWY3DPEHPK3PXP" not in body


def test_nobody_to_tell_sends_nothing():
    inactive = UserFactory(is_active=False)
    assert notice_email_send(user_id=inactive.pk, kind=NoticeKind.PASSWORD_CHANGED, details={}) is False
    assert notice_email_send(user_id=10**12, kind=NoticeKind.PASSWORD_CHANGED, details={}) is False
    assert notice_email_send(user_id=inactive.pk, kind="no_such_kind", details={}) is False
    assert mail.outbox == []


def test_a_failed_send_is_retried_until_it_goes_through(flaky, django_capture_on_commit_callbacks):
    user = UserFactory()
    flaky.failures = 2
    with django_capture_on_commit_callbacks(execute=True):
        announce_on_commit(NoticeDue(user_id=user.pk, kind=NoticeKind.PASSWORD_CHANGED, details={}))
    assert flaky.attempts == 3
    assert len(mail.outbox) == 1


def test_the_request_succeeds_when_sending_keeps_failing(
    flaky, user_2fa, auth_client, django_capture_on_commit_callbacks
):
    flaky.failures = 100
    client = auth_client(user_2fa)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/auth/2fa/disable", {"password": PASSWORD, "otp": fresh_otp(user_2fa)}, format="json"
        )
    assert response.status_code == 200, response.content
    # Every bounded retry ran (eagerly here) and gave up; the change itself stands.
    assert flaky.attempts == settings.NOTICE_MAX_RETRIES + 1
    assert mail.outbox == []
    assert two_factor_enabled(user=user_2fa) is False


def test_two_factor_changes_are_mailed(user, enable_2fa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        codes = enable_2fa(user)
    with django_capture_on_commit_callbacks(execute=True):
        two_factor_disable(user=user, otp=codes[0])
    bodies = [m.body for m in mail.outbox]
    assert any("was enabled" in b for b in bodies)
    assert any("was disabled" in b for b in bodies)


def test_a_staff_2fa_reset_is_mailed_to_the_user(user_2fa, django_capture_on_commit_callbacks):
    proposer, approver = UserFactory(is_staff=True), UserFactory(is_staff=True)
    reset = two_factor_reset_propose(actor=proposer, user=user_2fa, reason="ticket 42, video call")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        two_factor_reset_approve(actor=approver, reset_id=reset.pk)
    assert [m.to for m in mail.outbox] == [[user_2fa.email]]
    assert "reset by our staff" in mail.outbox[0].body
