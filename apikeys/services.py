"""Create, change and delete API keys. The caller checked who asks (password, OTP, staff role)."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import string
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from django.db import transaction

from accounts.audit import staff_action_record
from accounts.models import User
from exchange_site.errors import DomainError, NotFound

from .crypto import secret_encrypt
from .models import ApiKey

logger = logging.getLogger(__name__)

MAX_KEYS_PER_USER = 30
MAX_ALLOWLIST = 30
_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


def _random_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH))


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(f"{field}: {message}", code="validation_error", details={"fields": {field: [message]}})


def ip_allowlist_normalize(entries: Sequence[str]) -> list[str]:
    """Addresses or CIDR ranges in canonical form (``10.0.0.0/8``, ``1.2.3.4``); refuse anything else."""
    if len(entries) > MAX_ALLOWLIST:
        raise _invalid("ip_allowlist", f"At most {MAX_ALLOWLIST} entries.")
    result: list[str] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            raise _invalid("ip_allowlist", f"{str(entry)[:64]!r} is not an IP address or CIDR range.") from None
        text = str(network.network_address) if network.num_addresses == 1 else str(network)
        if text not in result:
            result.append(text)
    return result


def _public_key_normalize(pem: str) -> str:
    try:
        key = load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        raise _invalid("public_key", "Must be an Ed25519 public key in PEM form.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _invalid("public_key", "Must be an Ed25519 public key in PEM form.")
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def api_key_create(
    *,
    user_id: int,
    name: str,
    permissions: Sequence[str],
    ip_allowlist: Sequence[str] = (),
    type: str = ApiKey.Type.HMAC,
    public_key: str | None = None,
) -> tuple[ApiKey, str | None]:
    """Create a key; return it with its HMAC secret (shown to the trader this once) or None."""
    unknown = set(permissions) - set(ApiKey.Permission.values)
    if unknown or not permissions:
        raise _invalid("permissions", "A non-empty list of read and trade.")
    allowlist = ip_allowlist_normalize(ip_allowlist)
    secret: str | None = None
    material: dict[str, str] = {}
    if type == ApiKey.Type.ED25519:
        if not public_key:
            raise _invalid("public_key", "An ed25519 key needs its public key (PEM).")
        material["public_key"] = _public_key_normalize(public_key)
    elif public_key:
        raise _invalid("public_key", "Only ed25519 keys take a public key.")
    else:
        secret = _random_token()
        material["secret_encrypted"] = secret_encrypt(secret)
    with transaction.atomic(durable=True):
        if ApiKey.objects.filter(user_id=user_id).count() >= MAX_KEYS_PER_USER:
            raise DomainError(f"At most {MAX_KEYS_PER_USER} API keys per account.", code="too_many_api_keys")
        key = ApiKey.objects.create(
            user_id=user_id,
            name=name,
            api_key=_random_token(),
            type=type,
            can_trade=ApiKey.Permission.TRADE in permissions,
            ip_allowlist=allowlist,
            **material,
        )
    logger.info("api key %s created for user %s", key.pk, user_id)
    return key, secret


def _own_key(user_id: int, key_id: int) -> ApiKey:
    key = ApiKey.objects.select_for_update().filter(pk=key_id, user_id=user_id).first() if 0 < key_id < 2**63 else None
    if key is None:
        raise NotFound("API key not found.")
    return key


def api_key_update(
    *,
    user_id: int,
    key_id: int,
    enabled: bool | None = None,
    name: str | None = None,
    ip_allowlist: Sequence[str] | None = None,
) -> ApiKey:
    """Rename a key, change its allowlist, or switch it off or on; effective on the next request."""
    allowlist = ip_allowlist_normalize(ip_allowlist) if ip_allowlist is not None else None
    with transaction.atomic(durable=True):
        key = _own_key(user_id, key_id)
        if enabled is True and key.disabled_by_id is not None:
            raise DomainError(
                "This key was disabled by the exchange; create a new one.", code="permission_denied", status_code=403
            )
        if enabled is not None:
            key.enabled = enabled
        if name is not None:
            key.name = name
        if allowlist is not None:
            key.ip_allowlist = allowlist
        key.save(update_fields=["enabled", "name", "ip_allowlist"])
    return key


def api_key_delete(*, user_id: int, key_id: int) -> None:
    """Delete a key; the very next request signed with it is refused (keys are never cached)."""
    with transaction.atomic(durable=True):
        _own_key(user_id, key_id).delete()
    logger.info("api key %s deleted by user %s", key_id, user_id)


def api_key_disable_by_staff(*, actor_id: int, key_id: int, reason: str) -> ApiKey:
    """Back office switches a key off for good; who and why stay on the key (and in the log)."""
    if not reason.strip():
        raise _invalid("reason", "Say why the key is disabled.")
    with transaction.atomic(durable=True):
        key = ApiKey.objects.select_for_update().filter(pk=key_id).first()
        if key is None:
            raise NotFound("API key not found.")
        before = {"enabled": key.enabled}
        key.enabled = False
        key.disabled_by_id = actor_id
        key.disabled_reason = reason.strip()
        key.save(update_fields=["enabled", "disabled_by", "disabled_reason"])
        staff_action_record(
            actor=User.objects.filter(pk=actor_id).first(),
            action="api_key.disable",
            obj=key,
            before=before,
            after={"enabled": False, "reason": key.disabled_reason, "user_id": key.user_id},
        )
    logger.warning("api key %s disabled by staff %s: %s", key_id, actor_id, reason)
    return key
