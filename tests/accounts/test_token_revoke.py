from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.assertions import assert_error
from tests.factories import UserFactory

from .helpers import logged_in

URL = "/api/v1/auth/logout"

pytestmark = pytest.mark.django_db


def test_logout_answers_205_and_blacklists_the_refresh_token(user, login):
    client, pair = logged_in(login, user)

    response = client.post(URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 205
    assert response.content == b""
    assert_error(
        APIClient().post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"),
        401,
        "not_authenticated",
    )


def test_logout_twice_with_the_same_token_is_refused(user, login):
    client, pair = logged_in(login, user)
    assert client.post(URL, {"refresh": pair["refresh"]}, format="json").status_code == 205

    error = assert_error(client.post(URL, {"refresh": pair["refresh"]}, format="json"), 400, "validation_error")

    assert "refresh" in error["details"]["fields"]


@pytest.mark.parametrize("bad", ["garbage", "a.b.c", "", "ünïcødé"])
def test_logout_with_an_invalid_token_is_a_validation_error(user, login, bad):
    client, _ = logged_in(login, user)

    assert_error(client.post(URL, {"refresh": bad}, format="json"), 400, "validation_error")


def test_logout_with_an_access_token_is_a_validation_error(user, login):
    client, pair = logged_in(login, user)

    assert_error(client.post(URL, {"refresh": pair["access"]}, format="json"), 400, "validation_error")


def test_logout_cannot_revoke_another_users_token(user, login):
    client, _ = logged_in(login, user)
    other = UserFactory()
    _, other_pair = logged_in(login, other)

    assert_error(client.post(URL, {"refresh": other_pair["refresh"]}, format="json"), 400, "validation_error")

    refreshed = APIClient().post("/api/v1/auth/token/refresh", {"refresh": other_pair["refresh"]}, format="json")
    assert refreshed.status_code == 200


def test_logout_needs_an_access_token(api, user, login):
    pair = login(api, user.email).json()

    assert_error(api.post(URL, {"refresh": pair["refresh"]}, format="json"), 401, "not_authenticated")


def test_logout_leaves_the_users_other_sessions_alone(user, login):
    client, pair = logged_in(login, user)
    _, other_session = logged_in(login, user)

    assert client.post(URL, {"refresh": pair["refresh"]}, format="json").status_code == 205

    refreshed = APIClient().post("/api/v1/auth/token/refresh", {"refresh": other_session["refresh"]}, format="json")
    assert refreshed.status_code == 200
