from __future__ import annotations

import pytest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.selectors import two_factor_enabled
from tests.assertions import assert_error
from tests.factories import PASSWORD

from .helpers import totp_code, totp_device

URL = "/api/v1/auth/2fa/confirm"
PW = {"password": PASSWORD}

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(auth_client, user):
    """A client of ``user`` whose 2FA setup is started but not confirmed."""
    client = auth_client(user)
    assert client.post("/api/v1/auth/2fa/setup", PW, format="json").status_code == 200
    return client


def test_confirm_with_a_valid_code_turns_2fa_on_and_answers_10_backup_codes(pending, user):
    response = pending.post(URL, {"otp": totp_code(totp_device(user)), **PW}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["two_factor_enabled"] is True
    codes = body["backup_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert totp_device(user).confirmed is True
    device = StaticDevice.objects.get(user=user)
    assert device.confirmed is True
    assert sorted(device.token_set.values_list("token", flat=True)) == sorted(codes)
    assert two_factor_enabled(user=user) is True


def test_confirm_with_a_wrong_code_is_invalid_otp_and_leaves_2fa_off(pending, user):
    wrong = f"{(int(totp_code(totp_device(user))) + 1) % 1_000_000:06d}"

    assert_error(pending.post(URL, {"otp": wrong, **PW}, format="json"), 401, "invalid_otp")

    assert totp_device(user).confirmed is False
    assert not StaticDevice.objects.filter(user=user).exists()
    assert two_factor_enabled(user=user) is False


@pytest.mark.parametrize("otp", ["abcdef", "12345", "1234567", "１２３４５６", ""])
def test_confirm_with_a_code_of_the_wrong_shape_is_refused(pending, otp):
    response = pending.post(URL, {"otp": otp, **PW}, format="json")

    answer = (response.status_code, response.json()["error"]["code"])
    assert answer in {(401, "invalid_otp"), (400, "validation_error")}


def test_confirm_refuses_unicode_digits_of_the_right_code(pending, user):
    code = totp_code(totp_device(user))
    fullwidth = "".join(chr(ord("０") + int(c)) for c in code)

    assert_error(pending.post(URL, {"otp": fullwidth, **PW}, format="json"), 401, "invalid_otp")


def test_confirm_without_a_started_setup_is_a_validation_error(auth_client, user):
    error = assert_error(auth_client(user).post(URL, {"otp": "123456", **PW}, format="json"), 400, "validation_error")

    assert "setup" in error["message"]


def test_confirm_when_2fa_is_already_on_is_a_conflict(auth_client, user_2fa):
    code = totp_code(totp_device(user_2fa))

    assert_error(auth_client(user_2fa).post(URL, {"otp": code, **PW}, format="json"), 409, "two_factor_already_enabled")

    assert sorted(StaticToken.objects.filter(device__user=user_2fa).values_list("token", flat=True)) == sorted(
        user_2fa.backup_codes
    )


def test_confirm_without_otp_is_a_validation_error(pending):
    error = assert_error(pending.post(URL, PW, format="json"), 400, "validation_error")

    assert "otp" in error["details"]["fields"]


def test_confirm_needs_an_access_token(api):
    assert_error(api.post(URL, {"otp": "123456"}, format="json"), 401, "not_authenticated")


def test_after_confirm_login_requires_the_otp(api, pending, user, login):
    pending.post(URL, {"otp": totp_code(totp_device(user), steps=-1), **PW}, format="json")

    assert_error(login(api, user.email), 401, "otp_required")
    assert login(api, user.email, otp=totp_code(totp_device(user))).status_code == 200


def test_setup_after_a_failed_confirm_starts_over_with_a_new_device(pending, user):
    old_key = totp_device(user).key
    wrong = f"{(int(totp_code(totp_device(user))) + 1) % 1_000_000:06d}"
    pending.post(URL, {"otp": wrong, **PW}, format="json")

    pending.post("/api/v1/auth/2fa/setup", PW, format="json")

    device = TOTPDevice.objects.get(user=user)
    assert device.key != old_key
    assert pending.post(URL, {"otp": totp_code(device), **PW}, format="json").status_code == 200
