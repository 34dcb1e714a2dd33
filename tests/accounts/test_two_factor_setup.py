from __future__ import annotations

from base64 import b32decode
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.assertions import assert_error
from tests.factories import PASSWORD

URL = "/api/v1/auth/2fa/setup"
BODY = {"password": PASSWORD}

pytestmark = pytest.mark.django_db


def test_setup_answers_the_secret_an_authenticator_app_needs(auth_client, user):
    response = auth_client(user).post(URL, BODY, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"otpauth_url", "secret", "qr_svg"}
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is False
    assert b32decode(body["secret"]) == device.bin_key
    url = urlsplit(body["otpauth_url"])
    assert (url.scheme, url.netloc) == ("otpauth", "totp")
    assert user.email in unquote(url.path)
    assert parse_qs(url.query)["secret"] == [body["secret"]]


def test_setup_includes_a_qr_code_as_svg(auth_client, user):
    svg = auth_client(user).post(URL, BODY, format="json").json()["qr_svg"]

    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg


def test_setup_does_not_turn_2fa_on_yet(auth_client, user):
    client = auth_client(user)
    client.post(URL, BODY, format="json")

    assert client.get("/api/v1/me").json()["two_factor_enabled"] is False


def test_setup_again_replaces_the_pending_device(auth_client, user):
    client = auth_client(user)
    first = client.post(URL, BODY, format="json").json()["secret"]

    second = client.post(URL, BODY, format="json").json()["secret"]

    assert first != second
    assert [b32decode(second)] == [d.bin_key for d in TOTPDevice.objects.filter(user=user)]


def test_a_code_computed_from_the_answered_secret_confirms(auth_client, user):
    client = auth_client(user)
    secret = client.post(URL, BODY, format="json").json()["secret"]

    code = f"{totp(b32decode(secret)):06d}"
    response = client.post("/api/v1/auth/2fa/confirm", {"otp": code, **BODY}, format="json")

    assert response.status_code == 200
    assert response.json()["two_factor_enabled"] is True


def test_setup_when_2fa_is_already_on_is_a_conflict(auth_client, user_2fa):
    assert_error(auth_client(user_2fa).post(URL, BODY, format="json"), 409, "two_factor_already_enabled")

    assert TOTPDevice.objects.filter(user=user_2fa, confirmed=True).count() == 1
    assert TOTPDevice.objects.filter(user=user_2fa).count() == 1


def test_setup_needs_an_access_token(api):
    assert_error(api.post(URL, BODY, format="json"), 401, "not_authenticated")


def test_a_stolen_access_token_alone_cannot_start_setup(auth_client, user):
    error = assert_error(auth_client(user).post(URL), 400, "validation_error")

    assert "password" in error["details"]["fields"]
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_setup_with_a_wrong_password_is_refused(auth_client, user):
    assert_error(auth_client(user).post(URL, {"password": "not-it"}, format="json"), 401, "invalid_password")

    assert not TOTPDevice.objects.filter(user=user).exists()
