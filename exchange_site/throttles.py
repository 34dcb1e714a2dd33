"""Rate limits kept in the shared cache (Redis in production), set in settings.

Rates are read from ``settings.EXCHANGE_THROTTLE_RATES`` at request time so an
operator (or a test) can change them without reloading code. Refusals answer 429
``throttled`` with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return settings.EXCHANGE_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view) -> bool:
        # The rate may have changed since construction; re-read it per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - cache (Redis) unreachable
            # Fail open: an outage of the shared cache must not stop trading; the
            # limits come back with the cache.
            logger.warning("rate limit %s skipped: cache unavailable", self.scope, exc_info=True)
            return True


class AuthIPThrottle(_SettingsRateThrottle):
    """Login, registration and token refresh attempts per client IP."""

    scope = "auth_ip"

    def get_cache_key(self, request: Request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthAccountThrottle(_SettingsRateThrottle):
    """Login attempts per account, whatever IPs they come from (credential stuffing)."""

    scope = "auth_account"

    def get_cache_key(self, request: Request, view) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None
        # Hashed: the key must be safe whatever bytes the client typed.
        ident = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TradingThrottle(_SettingsRateThrottle):
    """Order placement and cancels per user."""

    scope = "trading"

    def get_cache_key(self, request: Request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
