"""Password reset by email: no hint whether an address exists, a single-use expiring token, every session ended."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.passwords import password_reset_token_make
from tests.factories import PASSWORD, UserFactory
from tests.mail import eager_tasks

from .helpers import logged_in, refresh

RESET, CONFIRM = "/api/v1/auth/password/reset", "/api/v1/auth/password/reset/confirm"
NEW = "a-brand-new-passphrase-77"


@pytest.fixture(autouse=True)
def _eager():
    with eager_tasks():
        yield


def _ask(api, capture, email):
    with capture(execute=True):
        return api.post(RESET, {"email": email}, format="json")


def _emailed_token() -> str:
    return re.search(r"\?token=(\S+)", mail.outbox[-1].body).group(1)


def test_registered_and_unknown_addresses_get_the_same_answer(user, api, django_capture_on_commit_callbacks):
    known = _ask(api, django_capture_on_commit_callbacks, user.email.upper())
    unknown = _ask(api, django_capture_on_commit_callbacks, "nobody-here@example.com")
    malformed = _ask(api, django_capture_on_commit_callbacks, "not an address")
    assert known.status_code == unknown.status_code == malformed.status_code == 202
    assert known.content == unknown.content == malformed.content
    assert dict(known.headers).keys() == dict(unknown.headers).keys()
    # Only the registered address gets a mail.
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_the_request_does_the_same_work_either_way(user, api, django_capture_on_commit_callbacks):
    """No lookup in the request: it queues the same task for any address (the task looks up)."""
    counts = []
    for email in (user.email, "nobody-here@example.com"):
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
            assert api.post(RESET, {"email": email}, format="json").status_code == 202
        counts.append((len(queries), len(callbacks)))
    assert counts[0] == counts[1] == (0, 1)


def test_reset_sets_the_password_ends_every_session_and_works_once(
    user, api, login, django_capture_on_commit_callbacks
):
    _, pair = logged_in(login, user)
    _ask(api, django_capture_on_commit_callbacks, user.email)
    token = _emailed_token()
    assert PASSWORD not in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
    assert response.status_code == 204, response.content
    assert refresh(api, pair["refresh"]).status_code == 401
    assert login(api, user.email, password=NEW).status_code == 200
    assert "password of your account was changed" in mail.outbox[-1].body
    again = api.post(CONFIRM, {"token": token, "new_password": "yet-another-passphrase-88"}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_reset_token"
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_a_token_stops_working_once_the_user_logs_in(user, api, login):
    token = password_reset_token_make(user=user)
    assert login(api, user.email).status_code == 200
    response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_reset_token"


class _TwoHoursAgo(PasswordResetTokenGenerator):
    def _now(self) -> datetime:
        return datetime.now() - timedelta(hours=2)  # noqa: DTZ005 - naive, like Django's own _now


def test_an_expired_token_is_refused(user, api, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    token = password_reset_token_make(user=user, generator=_TwoHoursAgo())
    response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_reset_token"
    settings.PASSWORD_RESET_TIMEOUT = 3 * 3600
    assert api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json").status_code == 204


def test_a_token_of_one_user_does_not_reset_another(user, api):
    other = UserFactory()
    token = password_reset_token_make(user=user)
    uid, key = token.split(".")
    forged = password_reset_token_make(user=other).split(".")[0] + "." + key
    response = api.post(CONFIRM, {"token": forged, "new_password": NEW}, format="json")
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.check_password(PASSWORD)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", ".", "MQ.", ".abc-def", "!!!.abc", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5.abc-def", "LTE.abc-d", "x" * 4000],
)
def test_malformed_tokens_are_refused(user, api, token):
    response = api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_reset_token", "validation_error")


def test_weak_new_password_keeps_the_token_usable(user, api):
    token = password_reset_token_make(user=user)
    weak = api.post(CONFIRM, {"token": token, "new_password": "short"}, format="json")
    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["details"]["fields"]
    assert api.post(CONFIRM, {"token": token, "new_password": NEW}, format="json").status_code == 204


@pytest.mark.parametrize("payload", [{}, {"email": None}, {"email": ["a@b.c"]}, {"email": "a" * 300}, "text"])
def test_hostile_reset_input_gets_a_validation_error(db, api, payload):
    response = api.post(RESET, payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_system_and_inactive_accounts_get_no_mail(db, api, django_capture_on_commit_callbacks):
    inactive = UserFactory(is_active=False)
    system = UserFactory(is_system=True)
    for email in (inactive.email, system.email):
        assert _ask(api, django_capture_on_commit_callbacks, email).status_code == 202
    assert mail.outbox == []


def test_reset_requests_are_limited_per_address(user, api, settings, django_capture_on_commit_callbacks):
    settings.EXCHANGE_THROTTLE_RATES = {**settings.EXCHANGE_THROTTLE_RATES, "password_reset": "2/h"}
    answers = [_ask(api, django_capture_on_commit_callbacks, user.email).status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    assert len(mail.outbox) == 2
    # Another address has its own bucket.
    assert _ask(api, django_capture_on_commit_callbacks, "someone-else@example.com").status_code == 202


def test_confirm_is_limited_per_ip(user, api, settings):
    settings.EXCHANGE_THROTTLE_RATES = {**settings.EXCHANGE_THROTTLE_RATES, "auth_ip": "3/m"}
    answers = [api.post(CONFIRM, {"token": "bad.token", "new_password": NEW}, format="json") for _ in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
