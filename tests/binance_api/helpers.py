"""Sign requests exactly as a Binance client does, through Django's test client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rest_framework.test import APIClient

from apikeys.services import api_key_create


def now_ms() -> int:
    return int(time.time() * 1000)


class Bot:
    """A trading bot holding one API key: HMAC (``secret``) or Ed25519 (``private_key``)."""

    def __init__(self, *, api_key: str, secret: str | None = None, private_key: Ed25519PrivateKey | None = None):
        self.api_key = api_key
        self.secret = secret
        self.private_key = private_key
        self.client = APIClient()
        self.remote_addr = "127.0.0.1"

    def sign(self, payload: bytes) -> str:
        if self.private_key is not None:
            return base64.b64encode(self.private_key.sign(payload)).decode()
        return hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        in_body: bool = False,
        timestamp: int | None = None,
        signed: bool = True,
        tamper: str | None = None,
        api_key: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        """Send a request; ``tamper`` replaces the body after signing (an altered request)."""
        values = dict(params or {})
        if signed:
            values["timestamp"] = timestamp if timestamp is not None else now_ms()
        query = urlencode(values)
        if signed:
            query += "&signature=" + urlencode({"s": self.sign(query.encode())})[2:]
        headers = {"HTTP_X_MBX_APIKEY": api_key if api_key is not None else self.api_key}
        headers["REMOTE_ADDR"] = self.remote_addr
        headers.update(extra or {})
        url = f"/api/v3/{path}"
        if in_body:
            body = tamper if tamper is not None else query
            return self.client.generic(
                method, url, data=body, content_type="application/x-www-form-urlencoded", **headers
            )
        return self.client.generic(method, f"{url}?{query}", **headers)


def hmac_bot(user, *, permissions=("read", "trade"), ip_allowlist=()) -> tuple[Bot, Any]:
    key, secret = api_key_create(user_id=user.pk, name="bot", permissions=list(permissions), ip_allowlist=ip_allowlist)
    return Bot(api_key=key.api_key, secret=secret), key


def ed25519_bot(user, *, permissions=("read", "trade")) -> tuple[Bot, Any]:
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    key, _ = api_key_create(user_id=user.pk, name="ed", permissions=list(permissions), type="ed25519", public_key=pem)
    return Bot(api_key=key.api_key, private_key=private), key


def assert_binance_error(resp, code: int, status: int | None = None) -> None:
    body = resp.json()
    assert set(body) == {"code", "msg"}, body
    assert body["code"] == code, body
    assert isinstance(body["msg"], str)
    assert body["msg"]
    if status is not None:
        assert resp.status_code == status, (resp.status_code, body)
