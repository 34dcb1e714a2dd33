from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from tests.assertions import assert_error

from .helpers import refresh

pytestmark = pytest.mark.django_db


def test_refresh_answers_a_new_pair_that_works(api, user, login):
    old = login(api, user.email).json()

    response = refresh(api, old["refresh"])

    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != old["refresh"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {new['access']}")
    assert api.get("/api/v1/me").status_code == 200


def test_refresh_rotates_so_the_old_refresh_token_is_refused(api, user, login):
    old = login(api, user.email).json()["refresh"]
    new = refresh(api, old).json()["refresh"]

    # The rotated token works once; presented again it is a reuse (see test_session_families).
    assert refresh(api, new).status_code == 200
    assert_error(refresh(api, new), 401, "refresh_token_reused")
    assert_error(refresh(api, old), 401, "not_authenticated")


def test_refresh_refuses_an_access_token(api, user, login):
    access = login(api, user.email).json()["access"]

    assert_error(refresh(api, access), 401, "not_authenticated")


def test_refresh_refuses_an_expired_refresh_token(api, user):
    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))

    assert_error(refresh(api, str(token)), 401, "not_authenticated")


def test_refresh_refuses_a_token_signed_with_another_key(api, user):
    token = RefreshToken.for_user(user)
    header, payload, _signature = str(token).split(".")

    assert_error(refresh(api, f"{header}.{payload}.{'A' * 43}"), 401, "not_authenticated")


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "ünïcødé", "x" * 4096])
def test_refresh_refuses_garbage(api, db, garbage):
    assert_error(refresh(api, garbage), 401, "not_authenticated")


def test_refresh_refuses_the_token_of_a_deactivated_user(api, user, login):
    token = login(api, user.email).json()["refresh"]
    user.is_active = False
    user.save()

    assert_error(refresh(api, token), 401, "not_authenticated")


def test_refresh_refuses_the_token_of_a_deleted_user(api, user, login):
    token = login(api, user.email).json()["refresh"]
    user.delete()

    assert_error(refresh(api, token), 401, "not_authenticated")
