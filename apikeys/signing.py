"""Check a signed request the way Binance's Spot API does.

The payload is the query string followed by the body, exactly as sent, less the
``signature`` parameter; HMAC keys sign it with HMAC-SHA256 (hex), Ed25519 keys with
their private key (base64). ``timestamp`` (ms, or µs) must lie within ``recvWindow``
(default 5000 ms, at most 60000) of the server's clock. Keys are read from the database
on every request, so a disabled or deleted key is refused on the very next one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.utils import timezone

from .crypto import secret_decrypt
from .models import ApiKey

DEFAULT_RECV_WINDOW = Decimal(5000)
MAX_RECV_WINDOW = Decimal(60000)
# How far ahead of the server's clock a timestamp may be (Binance: one second).
MAX_AHEAD_MS = 1000
LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")
_DIGITS = re.compile(r"[0-9]{1,17}")
_RECV_WINDOW = re.compile(r"[0-9]{1,6}(\.[0-9]{1,3})?")


@dataclass(eq=False)
class SignedRequestError(Exception):
    """A refusal with Binance's error code, message and HTTP status."""

    code: int
    msg: str
    status: int = 400


def _mandatory(name: str) -> SignedRequestError:
    return SignedRequestError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


# Functions, not shared instances: a raised instance keeps (and grows) its traceback.
def key_refused() -> SignedRequestError:
    return SignedRequestError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def key_format() -> SignedRequestError:
    return SignedRequestError(-2014, "API-key format invalid.", 401)


def bad_signature() -> SignedRequestError:
    return SignedRequestError(-1022, "Signature for this request is not valid.", 400)


def _without_signature(raw: bytes) -> bytes:
    return b"&".join(part for part in raw.split(b"&") if not part.startswith(b"signature="))


def signature_payload(*, query: str, body: bytes) -> bytes:
    """What the client signed: the query string then the body, as sent, less ``signature``."""
    return _without_signature(query.encode("latin-1", "replace")) + _without_signature(body)


def _timestamp_check(params: dict[str, str], now_ms: int) -> None:
    raw = params.get("timestamp", "")
    if not _DIGITS.fullmatch(raw):
        raise _mandatory("timestamp")
    timestamp = int(raw)
    if timestamp >= 10**14:  # microseconds, as Binance also accepts
        timestamp //= 1000
    raw_window = params.get("recvWindow")
    window = DEFAULT_RECV_WINDOW
    if raw_window is not None:
        try:
            window = Decimal(raw_window) if _RECV_WINDOW.fullmatch(raw_window) else Decimal(-1)
        except InvalidOperation:
            window = Decimal(-1)
        if window > MAX_RECV_WINDOW:
            raise SignedRequestError(-1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000.")
        if window <= 0:
            raise _mandatory("recvWindow")
    if timestamp >= now_ms + MAX_AHEAD_MS:
        raise SignedRequestError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise SignedRequestError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _signature_valid(key: ApiKey, payload: bytes, signature: str) -> bool:
    if key.type == ApiKey.Type.HMAC:
        secret = secret_decrypt(key.secret_encrypted)
        if secret is None:
            return False
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        # Binance: HMAC signatures are not case-sensitive.
        return hmac.compare_digest(expected, signature.lower().encode("ascii", "replace").decode())
    try:
        public = load_pem_public_key(key.public_key.encode())
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not isinstance(public, Ed25519PublicKey):
        return False
    try:
        public.verify(raw, payload)
    except InvalidSignature:
        return False
    return True


def ip_allowed(allowlist: list[str], client_ip: str) -> bool:
    if not allowlist:
        return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def signed_request_verify(
    *, api_key: str | None, params: dict[str, str], query: str, body: bytes, client_ip: str, now_ms: int
) -> ApiKey:
    """Return the key (with its user) that signed this request, or raise ``SignedRequestError``."""
    if not api_key or not _KEY_FORMAT.fullmatch(api_key):
        raise key_format()
    _timestamp_check(params, now_ms)
    signature = params.get("signature", "")
    if not signature or len(signature) > 512:
        raise _mandatory("signature")
    key = ApiKey.objects.select_related("user").filter(api_key=api_key).first()
    if key is None or not key.enabled or not key.user.is_active:
        raise key_refused()
    if not _signature_valid(key, signature_payload(query=query, body=body), signature):
        raise bad_signature()
    if not ip_allowed(key.ip_allowlist, client_ip):
        raise key_refused()
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per key: a bot's every request must not be an UPDATE.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
