"""POST /auth/password/change: current password, validated new one, other sessions end, this one stays."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import SessionFamily
from tests.factories import PASSWORD
from tests.mail import eager_tasks

from .helpers import logged_in, refresh

URL = "/api/v1/auth/password/change"
NEW = "a-brand-new-passphrase-77"


@pytest.fixture(autouse=True)
def _eager():
    with eager_tasks():
        yield


def test_change_keeps_this_session_and_ends_every_other(user, login, api, django_capture_on_commit_callbacks):
    here, here_pair = logged_in(login, user)
    _, other_pair = logged_in(login, user)
    _, third_pair = logged_in(login, user)
    with django_capture_on_commit_callbacks(execute=True):
        response = here.post(URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert refresh(api, other_pair["refresh"]).status_code == 401
    assert refresh(api, third_pair["refresh"]).status_code == 401
    assert refresh(api, here_pair["refresh"]).status_code == 200
    revoked = SessionFamily.objects.filter(user=user, revoked_reason=SessionFamily.Reason.PASSWORD_CHANGED)
    assert revoked.count() == 2
    assert login(api, user.email).status_code == 401
    assert login(api, user.email, password=NEW).status_code == 200
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "password" in mail.outbox[0].subject.lower()


def test_wrong_current_password_changes_nothing(user, login, api):
    client, pair = logged_in(login, user)
    response = client.post(URL, {"current_password": "not-it-at-all", "new_password": NEW}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_password"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert refresh(api, pair["refresh"]).status_code == 200


@pytest.mark.parametrize("weak", ["short", "1234567890123", "password123", "trader0@example.com"])
def test_weak_new_password_is_refused_by_the_validators(user, login, weak):
    client, _ = logged_in(login, user)
    response = client.post(URL, {"current_password": PASSWORD, "new_password": weak}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert "new_password" in body["details"]["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"current_password": PASSWORD},
        {"new_password": NEW},
        {"current_password": ["x"], "new_password": NEW},
        {"current_password": PASSWORD, "new_password": None},
        {"current_password": PASSWORD, "new_password": 12345678901},
        {"current_password": PASSWORD, "new_password": "x" * 5000},
        [1, 2],
    ],
)
def test_hostile_input_gets_a_validation_error(user, login, payload):
    client, _ = logged_in(login, user)
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_needs_an_access_token(api):
    response = api.post(URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
