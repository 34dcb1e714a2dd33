"""API keys over the JWT API: password (and OTP with 2FA) to create, the secret shown once,
listing without secrets, disable and delete only one's own keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from apikeys.models import ApiKey
from tests.assertions import assert_error
from tests.backoffice.helpers import enable_2fa, fresh_otp
from tests.factories import PASSWORD, UserFactory

from .helpers import Bot, assert_binance_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/api-keys"


def _create(client, **body):
    payload = {"name": "bot", "permissions": ["read", "trade"], "password": PASSWORD, **body}
    return client.post(URL, payload, format="json")


def _pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def test_create_shows_the_secret_once_and_the_list_never(auth_client):
    user = UserFactory()
    client = auth_client(user)
    resp = _create(client, ip_allowlist=["10.0.0.0/8", "192.0.2.7"])
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert len(body["secret"]) == 64
    assert len(body["api_key"]) == 64
    assert body["permissions"] == ["read", "trade"]
    assert body["type"] == "hmac"
    assert body["ip_allowlist"] == ["10.0.0.0/8", "192.0.2.7"]
    listed = client.get(URL).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert body["secret"] not in str(listed)
    # The new key signs requests at once.
    bot = Bot(api_key=body["api_key"], secret=body["secret"])
    bot.remote_addr = "10.9.9.9"
    assert bot.call("GET", "account").status_code == 200


def test_create_needs_the_password(auth_client):
    client = auth_client(UserFactory())
    assert_error(_create(client, password="wrong-password-123"), 401, "invalid_password")
    assert_error(client.post(URL, {"name": "x", "permissions": ["read"]}, format="json"), 400, "validation_error")
    assert not ApiKey.objects.exists()


def test_create_needs_a_current_code_when_two_factor_is_on(auth_client):
    user = UserFactory()
    enable_2fa(user)
    client = auth_client(user)
    assert_error(_create(client), 401, "otp_required")
    assert_error(_create(client, otp="000000"), 401, "invalid_otp")
    assert not ApiKey.objects.exists()
    assert _create(client, otp=fresh_otp(user)).status_code == 201


def test_create_needs_a_login(api):
    assert_error(_create(api), 401, "not_authenticated")


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["withdraw"]},
        {"permissions": []},
        {"permissions": "read"},
        {"ip_allowlist": ["not-an-ip"]},
        {"ip_allowlist": ["10.0.0.0/33"]},
        {"ip_allowlist": ["1.2.3.4"] * 31},
        {"type": "rsa"},
        {"type": "ed25519"},
        {"type": "ed25519", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
        {"public_key": "whatever"},
        {"name": ""},
        {"name": 7},
    ],
)
def test_bad_input_is_refused_and_creates_nothing(auth_client, body):
    assert_error(_create(auth_client(UserFactory()), **body), 400, "validation_error")
    assert not ApiKey.objects.exists()


def test_ed25519_key_stores_only_the_public_key(auth_client):
    resp = _create(auth_client(UserFactory()), type="ed25519", public_key=_pem(), permissions=["read"])
    assert resp.status_code == 201, resp.json()
    assert resp.json()["secret"] is None
    assert resp.json()["permissions"] == ["read"]
    key = ApiKey.objects.get()
    assert key.secret_encrypted == ""
    assert "PUBLIC KEY" in key.public_key


def test_without_an_encryption_key_hmac_keys_are_refused_but_ed25519_works(auth_client, settings):
    settings.API_KEY_ENCRYPTION_KEY = ""
    client = auth_client(UserFactory())
    error = assert_error(_create(client), 409, "hmac_keys_unavailable")
    assert "API_KEY_ENCRYPTION_KEY" in error["message"]
    assert not ApiKey.objects.exists()
    assert _create(client, type="ed25519", public_key=_pem()).status_code == 201


def test_disable_rename_and_delete_my_key(auth_client):
    user = UserFactory()
    client = auth_client(user)
    created = _create(client).json()
    bot = Bot(api_key=created["api_key"], secret=created["secret"])
    resp = client.patch(f"{URL}/{created['id']}", {"enabled": False, "name": "paused"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["enabled"] is False
    assert resp.json()["name"] == "paused"
    assert_binance_error(bot.call("GET", "account"), -2015, 401)
    assert client.patch(f"{URL}/{created['id']}", {"enabled": True}, format="json").status_code == 200
    assert bot.call("GET", "account").status_code == 200
    assert client.delete(f"{URL}/{created['id']}").status_code == 204
    assert_binance_error(bot.call("GET", "account"), -2015, 401)
    assert client.get(URL).json() == []


def test_another_users_key_is_not_found(auth_client):
    owner_client = auth_client(UserFactory())
    created = _create(owner_client).json()
    intruder = auth_client(UserFactory())
    assert_error(intruder.patch(f"{URL}/{created['id']}", {"enabled": False}, format="json"), 404, "not_found")
    assert_error(intruder.delete(f"{URL}/{created['id']}"), 404, "not_found")
    assert intruder.get(URL).json() == []
    assert ApiKey.objects.get().enabled is True
    assert_error(intruder.delete(f"{URL}/{2**63}"), 404, "not_found")
