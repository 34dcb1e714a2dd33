from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.assertions import assert_error

URL = "/api/v1/me"

pytestmark = pytest.mark.django_db


def test_me_answers_id_email_two_factor_state_tier_and_freezes(auth_client, user):
    response = auth_client(user).get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": user.email,
        "two_factor_enabled": False,
        "tier": 0,
        "trading_frozen": False,
        "withdrawals_frozen": False,
    }


def test_me_shows_a_freeze_on_the_very_next_request(auth_client, user):
    client = auth_client(user)
    assert client.get(URL).json()["trading_frozen"] is False  # the user is now in the cache
    user.trading_frozen = True
    user.tier = 2
    user.save(update_fields=["trading_frozen", "tier"])

    body = client.get(URL).json()
    assert (body["trading_frozen"], body["withdrawals_frozen"], body["tier"]) == (True, False, 2)


def test_me_shows_two_factor_enabled_once_confirmed(auth_client, user_2fa):
    assert auth_client(user_2fa).get(URL).json()["two_factor_enabled"] is True


def test_me_without_a_token_is_not_authenticated(api):
    assert_error(api.get(URL), 401, "not_authenticated")


def test_me_refuses_an_expired_access_token(api, user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_error(api.get(URL), 401, "not_authenticated")


def test_access_tokens_live_at_most_15_minutes(user):
    token = AccessToken.for_user(user)

    assert token["exp"] - token["iat"] <= 15 * 60


def test_me_refuses_a_refresh_token_used_as_an_access_token(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")

    assert_error(api.get(URL), 401, "not_authenticated")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer", "Token abc", "Bearer a.b.c", "Bearer ünïcødé"])
def test_me_refuses_a_malformed_authorization_header(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_refuses_the_token_of_a_deactivated_user(auth_client, user):
    client = auth_client(user)
    user.is_active = False
    user.save()

    assert_error(client.get(URL), 401, "not_authenticated")


def test_me_is_read_only(auth_client, user):
    assert_error(auth_client(user).post(URL, {}, format="json"), 405, "method_not_allowed")
