"""Rate limits kept in the shared cache (Redis in production), set in settings.

Rates are read from ``settings.EXCHANGE_THROTTLE_RATES`` at request time so an
operator (or a test) can change them without reloading code. Refusals answer 429
``throttled`` with ``Retry-After``.

Client addresses come from ``REMOTE_ADDR`` unless ``NUM_PROXIES`` (settings) says how
many trusted proxies append to ``X-Forwarded-For``; a header the client wrote itself
never names a bucket. When the cache is unreachable, trading limits fail open (an
outage must not stop trading) but login limits fail closed (503
``service_unavailable``): brute force is never unlimited.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)
# How long a client is told to wait while the cache that holds the login limits is down.
UNAVAILABLE_RETRY_SECONDS = 5


class AuthLimitsUnavailable(exceptions.APIException):
    """The login limits cannot be checked (cache down): refuse rather than allow unlimited guessing."""

    status_code = 503
    default_code = "service_unavailable"
    default_detail = "Login is temporarily unavailable; try again shortly."
    wait = UNAVAILABLE_RETRY_SECONDS


class _SettingsRateThrottle(SimpleRateThrottle):
    fail_closed = False

    def get_rate(self) -> str | None:
        return settings.EXCHANGE_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view) -> bool:
        # The rate may have changed since construction; re-read it per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        # Read the client's input first, outside the guard below: a body that does not parse
        # or is too big is the client's error (a 4xx), not an unreachable cache.
        self.get_cache_key(request, view)
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # cache (Redis) unreachable
            if self.fail_closed:
                logger.error("rate limit %s unavailable: refusing (cache down)", self.scope, exc_info=True)
                raise AuthLimitsUnavailable() from exc
            # Fail open: an outage of the shared cache must not stop trading; the
            # limits come back with the cache.
            logger.warning("rate limit %s skipped: cache unavailable", self.scope, exc_info=True)
            return True


class AuthIPThrottle(_SettingsRateThrottle):
    """Login, registration and token refresh attempts per client IP."""

    scope = "auth_ip"
    fail_closed = True

    def get_cache_key(self, request: Request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthAccountThrottle(_SettingsRateThrottle):
    """Login attempts per account, whatever IPs they come from (credential stuffing)."""

    scope = "auth_account"
    fail_closed = True
    # The form field that names the account: "email" in the API, "username" on the admin login.
    account_field = "email"

    def get_cache_key(self, request: Request | HttpRequest, view) -> str | None:
        data = request.data if isinstance(request, Request) else request.POST
        email = data.get(self.account_field) if hasattr(data, "get") else None
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


class AdminAuthAccountThrottle(AuthAccountThrottle):
    """The per-account login limit for the admin's login form (same buckets as the API's)."""

    account_field = "username"


def auth_limits_refusal(request: HttpRequest) -> HttpResponse | None:
    """Apply the API's login limits (per IP, per account) to a plain Django login view.

    Returns the refusal to send (429, or 503 while the cache is down), or None to go on.
    """
    for throttle in (AuthIPThrottle(), AdminAuthAccountThrottle()):
        try:
            allowed = throttle.allow_request(request, None)
        except AuthLimitsUnavailable as exc:
            return _plain_refusal(503, str(exc.detail), exc.wait)
        if not allowed:
            wait = throttle.wait() or 1
            return _plain_refusal(429, "Too many login attempts; try again later.", wait)
    return None


def _plain_refusal(status: int, message: str, wait: float) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response
