"""A stolen access token cannot take 2FA over: enrolling and disabling need the password (and a code)."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import SessionFamily
from accounts.selectors import two_factor_enabled
from tests.assertions import assert_error
from tests.factories import PASSWORD, UserFactory

from .helpers import allow_next_attempt, logged_in, totp_code, totp_device

SETUP, CONFIRM, DISABLE = "/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/confirm", "/api/v1/auth/2fa/disable"
REFRESH = "/api/v1/auth/token/refresh"

pytestmark = pytest.mark.django_db


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


# -- enrolling ------------------------------------------------------------------------


def test_an_access_token_alone_cannot_confirm_a_pending_setup(auth_client, user):
    client = auth_client(user)
    assert client.post(SETUP, {"password": PASSWORD}, format="json").status_code == 200

    error = assert_error(
        client.post(CONFIRM, {"otp": totp_code(totp_device(user))}, format="json"), 400, "validation_error"
    )

    assert "password" in error["details"]["fields"]
    assert two_factor_enabled(user=user) is False


def test_confirm_with_a_wrong_password_is_refused_and_2fa_stays_off(auth_client, user):
    client = auth_client(user)
    client.post(SETUP, {"password": PASSWORD}, format="json")

    body = {"otp": totp_code(totp_device(user)), "password": PASSWORD + "x"}
    assert_error(client.post(CONFIRM, body, format="json"), 401, "invalid_password")

    assert two_factor_enabled(user=user) is False
    assert not StaticDevice.objects.filter(user=user).exists()


def test_a_wrong_password_does_not_use_up_the_code(auth_client, user):
    client = auth_client(user)
    client.post(SETUP, {"password": PASSWORD}, format="json")
    code = totp_code(totp_device(user))
    client.post(CONFIRM, {"otp": code, "password": "wrong"}, format="json")

    assert client.post(CONFIRM, {"otp": code, "password": PASSWORD}, format="json").status_code == 200


def test_enabling_2fa_revokes_every_earlier_session_and_answers_a_new_one(user, login):
    other_device, other_pair = logged_in(login, user)
    client, pair = logged_in(login, user)
    client.post(SETUP, {"password": PASSWORD}, format="json")

    response = client.post(CONFIRM, {"otp": totp_code(totp_device(user)), "password": PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["two_factor_enabled"] is True
    assert len(body["backup_codes"]) == 10
    # Both earlier refresh tokens (the caller's and the other device's) are dead.
    assert_error(refresh(other_pair["refresh"]), 401, "not_authenticated")
    assert_error(refresh(pair["refresh"]), 401, "not_authenticated")
    assert set(SessionFamily.objects.filter(revoked_at__isnull=False).values_list("revoked_reason", flat=True)) == {
        SessionFamily.Reason.TWO_FACTOR_ENABLED
    }
    # The answered pair is a fresh session that works.
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert fresh.get("/api/v1/me").json()["two_factor_enabled"] is True
    assert refresh(body["refresh"]).status_code == 200


def test_a_failed_confirm_revokes_nothing(user, login):
    client, pair = logged_in(login, user)
    client.post(SETUP, {"password": PASSWORD}, format="json")
    wrong = f"{(int(totp_code(totp_device(user))) + 1) % 1_000_000:06d}"

    assert_error(client.post(CONFIRM, {"otp": wrong, "password": PASSWORD}, format="json"), 401, "invalid_otp")

    assert refresh(pair["refresh"]).status_code == 200


# -- disabling ------------------------------------------------------------------------


def test_disable_with_password_and_a_current_code_turns_2fa_off(auth_client, user_2fa, login, api):
    code = totp_code(totp_device(user_2fa))

    response = auth_client(user_2fa).post(DISABLE, {"password": PASSWORD, "otp": code}, format="json")

    assert response.status_code == 200
    assert response.json() == {"two_factor_enabled": False}
    assert not TOTPDevice.objects.filter(user=user_2fa).exists()
    assert not StaticDevice.objects.filter(user=user_2fa).exists()
    assert login(api, user_2fa.email).status_code == 200


def test_disable_accepts_a_backup_code(auth_client, user_2fa):
    body = {"password": PASSWORD, "otp": user_2fa.backup_codes[0]}

    assert auth_client(user_2fa).post(DISABLE, body, format="json").status_code == 200
    assert two_factor_enabled(user=user_2fa) is False


def test_disable_with_a_wrong_password_is_refused_and_keeps_the_code_unused(auth_client, user_2fa):
    code = totp_code(totp_device(user_2fa))
    client = auth_client(user_2fa)

    assert_error(client.post(DISABLE, {"password": "nope", "otp": code}, format="json"), 401, "invalid_password")

    assert two_factor_enabled(user=user_2fa) is True
    assert client.post(DISABLE, {"password": PASSWORD, "otp": code}, format="json").status_code == 200


def test_disable_with_a_wrong_code_is_refused(auth_client, user_2fa):
    wrong = f"{(int(totp_code(totp_device(user_2fa))) + 1) % 1_000_000:06d}"

    response = auth_client(user_2fa).post(DISABLE, {"password": PASSWORD, "otp": wrong}, format="json")

    assert_error(response, 401, "invalid_otp")
    assert two_factor_enabled(user=user_2fa) is True


def test_disable_with_a_used_code_is_refused(auth_client, user_2fa, login, api):
    code = totp_code(totp_device(user_2fa))
    assert login(api, user_2fa.email, otp=code).status_code == 200

    response = auth_client(user_2fa).post(DISABLE, {"password": PASSWORD, "otp": code}, format="json")

    assert_error(response, 401, "invalid_otp")
    allow_next_attempt(totp_device(user_2fa))
    assert two_factor_enabled(user=user_2fa) is True


@pytest.mark.parametrize("body", [{}, {"password": PASSWORD}, {"otp": "123456"}], ids=["empty", "no-otp", "no-pw"])
def test_disable_needs_both_password_and_otp(auth_client, user_2fa, body):
    assert_error(auth_client(user_2fa).post(DISABLE, body, format="json"), 400, "validation_error")

    assert two_factor_enabled(user=user_2fa) is True


def test_disable_when_2fa_is_off_is_a_conflict(auth_client, user):
    response = auth_client(user).post(DISABLE, {"password": PASSWORD, "otp": "123456"}, format="json")

    assert_error(response, 409, "two_factor_not_enabled")


def test_disable_needs_an_access_token(api, user_2fa):
    assert_error(api.post(DISABLE, {"password": PASSWORD, "otp": "123456"}, format="json"), 401, "not_authenticated")


def test_disable_touches_only_the_callers_own_2fa(auth_client, user_2fa, enable_2fa):
    other = UserFactory()
    enable_2fa(other)

    body = {"password": PASSWORD, "otp": user_2fa.backup_codes[1], "user": other.pk, "id": other.pk}
    assert auth_client(user_2fa).post(DISABLE, body, format="json").status_code == 200

    assert two_factor_enabled(user=other) is True


def test_another_users_code_does_not_disable(auth_client, user_2fa, enable_2fa):
    other = UserFactory()
    codes = enable_2fa(other)

    response = auth_client(user_2fa).post(DISABLE, {"password": PASSWORD, "otp": codes[0]}, format="json")

    assert_error(response, 401, "invalid_otp")
    assert two_factor_enabled(user=user_2fa) is True
