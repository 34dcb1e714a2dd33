"""Withdrawal emails: the owner hears of the request, the approval, the payout and a rejection, after commit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from tests.factories import CurrencyFactory, UserFactory
from tests.mail import eager_tasks
from wallets.withdrawals import withdrawal_approve, withdrawal_mark_sent, withdrawal_reject

from .helpers import deposit, withdraw

ADDRESS = "bc1qnoticeaddress0001"


@pytest.fixture(autouse=True)
def _eager():
    with eager_tasks():
        yield


@pytest.fixture
def owner_and_currency(db):
    currency = CurrencyFactory(code="NTC", precision=8)
    owner = UserFactory()
    deposit(owner, currency, "10")
    return owner, currency


def _committed(capture, fn, **kwargs):
    with capture(execute=True):
        return fn(**kwargs)


def test_request_approval_and_payout_each_send_one_mail(owner_and_currency, django_capture_on_commit_callbacks):
    owner, currency = owner_and_currency
    staff = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = withdraw(owner, currency, "1.5", address=ADDRESS)
    assert [m.subject.split("] ")[1] for m in mail.outbox] == ["Withdrawal requested"]
    assert "1.5 NTC" in mail.outbox[0].body
    assert ADDRESS in mail.outbox[0].body
    _committed(django_capture_on_commit_callbacks, withdrawal_approve, actor=staff, withdrawal_id=withdrawal.pk)
    _committed(
        django_capture_on_commit_callbacks, withdrawal_mark_sent, actor=staff, withdrawal_id=withdrawal.pk, txid="f00d"
    )
    assert [m.subject.split("] ")[1] for m in mail.outbox] == [
        "Withdrawal requested",
        "Withdrawal approved",
        "Withdrawal sent",
    ]
    assert all(m.to == [owner.email] for m in mail.outbox)
    assert "f00d" in mail.outbox[-1].body


def test_rejection_mail_gives_the_reason(owner_and_currency, django_capture_on_commit_callbacks):
    owner, currency = owner_and_currency
    withdrawal = withdraw(owner, currency, "2", address=ADDRESS)
    mail.outbox.clear()
    _committed(
        django_capture_on_commit_callbacks,
        withdrawal_reject,
        actor=UserFactory(),
        withdrawal_id=withdrawal.pk,
        reason="address on a sanctions list",
    )
    assert len(mail.outbox) == 1
    assert "rejected" in mail.outbox[0].body
    assert "address on a sanctions list" in mail.outbox[0].body


def test_the_first_of_two_approvals_sends_nothing(db, django_capture_on_commit_callbacks):
    currency = CurrencyFactory(code="NTD", precision=8, dual_approval_threshold=Decimal("1"))
    owner = UserFactory()
    deposit(owner, currency, "10")
    withdrawal = withdraw(owner, currency, "5", address=ADDRESS)
    mail.outbox.clear()
    _committed(django_capture_on_commit_callbacks, withdrawal_approve, actor=UserFactory(), withdrawal_id=withdrawal.pk)
    assert mail.outbox == []
    _committed(django_capture_on_commit_callbacks, withdrawal_approve, actor=UserFactory(), withdrawal_id=withdrawal.pk)
    assert [m.subject.split("] ")[1] for m in mail.outbox] == ["Withdrawal approved"]


def test_nothing_is_mailed_when_the_request_is_refused(owner_and_currency, django_capture_on_commit_callbacks):
    owner, currency = owner_and_currency
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception, match="Insufficient|insufficient"):
        withdraw(owner, currency, "1000", address=ADDRESS)
    assert mail.outbox == []
