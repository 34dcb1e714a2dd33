"""JWT authentication that reads the token's user from the shared cache, not the database.

simplejwt loads the user row on every request; here the row's fields (all but the
password hash, which stays deferred and is loaded only if something reads it) are kept
in the cache for a short while. Every save or delete of a user voids the entry at once
and again after commit, so a deactivated user is refused on the very next request.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from exchange_site import request_reads

from .models import User

logger = logging.getLogger(__name__)

# A safety net only: every change of a user drops its entry.
USER_CACHE_SECONDS = 300
# Never cached: the password hash stays out of the cache and is read only when used.
_FIELDS = [f.attname for f in User._meta.concrete_fields if f.attname != "password"]


def _key(user_id: Any) -> str:
    return f"auth:user:{user_id}"


def _generation_key(user_id: Any) -> str:
    return f"auth:user-gen:{user_id}"


def user_cached(*, user_id: int) -> User | None:
    """The user with ``user_id`` (password deferred), from the cache when current; None if none.

    An entry is used only while it carries the user's current generation, a random token
    replaced by every change: an entry written from a row read before a change (however
    late the write) is never used afterwards.
    """
    key, generation_key = _key(user_id), _generation_key(user_id)
    try:
        # With the keys other layers read on every request (the markets version), in one round trip.
        found = request_reads.read_with([key, generation_key])
        generation = found.get(generation_key)
        if generation is None:
            generation = uuid.uuid4().hex
            if not cache.add(generation_key, generation, timeout=USER_CACHE_SECONDS):
                generation = cache.get(generation_key)
    except Exception:  # an unreachable cache: read the database
        logger.warning("cache read of user %s failed", user_id, exc_info=True)
        found, generation = {}, None
    entry = found.get(key)
    if entry is not None and generation is not None and entry[0] == generation:
        values = entry[1]
    else:
        values = User.objects.filter(pk=user_id).values_list(*_FIELDS).first()
        if values is None:
            return None
        if generation is not None:
            try:
                cache.set(key, (generation, values), timeout=USER_CACHE_SECONDS)
            except Exception:  # see above
                logger.warning("cache write of user %s failed", user_id, exc_info=True)
    return User.from_db("default", _FIELDS, values)


def user_cache_drop(*, user_id: int) -> None:
    """Invalidate the cached user now and once the surrounding transaction commits."""

    def drop() -> None:
        try:
            cache.set(_generation_key(user_id), uuid.uuid4().hex, timeout=USER_CACHE_SECONDS)
        except Exception:  # the entry expires after USER_CACHE_SECONDS
            logger.warning("invalidating cached user %s failed", user_id, exc_info=True)

    # Before commit a request may re-read the old row; the change after commit voids it.
    drop()
    transaction.on_commit(drop)


def _user_changed(sender: type, instance: User, **kwargs: Any) -> None:
    user_cache_drop(user_id=instance.pk)


post_save.connect(_user_changed, sender=User, dispatch_uid="accounts-user-cache-save")
post_delete.connect(_user_changed, sender=User, dispatch_uid="accounts-user-cache-delete")


# Access tokens this process verified, until they expire: raw token -> (exp, token).
# Checking an HS256 signature and decoding the claims costs about a quarter of an
# authenticated read; the same bytes always verify the same way, and nothing revokes an
# access token before its expiry (logout blacklists refresh tokens), so only the time
# claim needs checking again. Bounded: emptied when full.
_VERIFIED_MAX = 10_000
_verified: dict[bytes, tuple[float, Token]] = {}


def _verified_drop(**kwargs: Any) -> None:
    _verified.clear()


# A changed signing key or token setting (tests) must verify every token again.
setting_changed.connect(_verified_drop, dispatch_uid="accounts-verified-tokens")


class CachedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's ``JWTAuthentication`` with the user read through ``user_cached``.

    A token already verified by this process is not verified again until it expires;
    an expired one goes through simplejwt, which refuses it with its own message.
    """

    def get_validated_token(self, raw_token: bytes) -> Token:
        hit = _verified.get(raw_token)
        if hit is not None and time.time() < hit[0]:
            return hit[1]
        token = super().get_validated_token(raw_token)
        exp = token.payload.get("exp")
        if type(exp) is int:
            if len(_verified) >= _VERIFIED_MAX:
                _verified.clear()
            _verified[raw_token] = (exp, token)
        return token

    def get_user(self, validated_token: Token) -> User:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        if api_settings.USER_ID_FIELD != "id" or api_settings.CHECK_REVOKE_TOKEN:
            return super().get_user(validated_token)
        try:
            user_id = int(user_id)
        except (TypeError, ValueError) as exc:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        user = user_cached(user_id=user_id) if 0 < user_id < 2**63 else None
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user


class CachedUserJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's class, for ours (the same ``jwtAuth``)."""

    target_class = "accounts.authentication.CachedUserJWTAuthentication"
