"""Encryption at rest of HMAC secrets, with a key that only the environment holds."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from exchange_site.errors import Conflict


class EncryptionUnavailable(Conflict):
    code = "hmac_keys_unavailable"
    message = (
        "HMAC API keys cannot be created: the server has no API_KEY_ENCRYPTION_KEY. "
        "Register an ed25519 key instead, or ask the operator to set it."
    )


def _fernet() -> Fernet | None:
    raw = settings.API_KEY_ENCRYPTION_KEY
    if not raw:
        return None
    # Any string works as the setting: a fixed-purpose hash turns it into Fernet's 32-byte key.
    digest = hashlib.sha256(b"exchange/apikeys/hmac-secret/v1\x00" + raw.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encryption_available() -> bool:
    return _fernet() is not None


def secret_encrypt(secret: str) -> str:
    """Encrypt an HMAC secret for storage; refuse when the server has no encryption key."""
    fernet = _fernet()
    if fernet is None:
        raise EncryptionUnavailable()
    return fernet.encrypt(secret.encode()).decode("ascii")


def secret_decrypt(token: str) -> str | None:
    """The stored secret, or None when it cannot be read (no key, or a different key)."""
    fernet = _fernet()
    if fernet is None or not token:
        return None
    try:
        return fernet.decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None
