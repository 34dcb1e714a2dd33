"""Rate limits kept in the shared cache (Redis in production), set in settings.

Rates are read from ``settings.EXCHANGE_THROTTLE_RATES`` at request time so an
operator (or a test) can change them without reloading code. Refusals answer 429
``throttled`` with ``Retry-After``.

Client addresses come from ``REMOTE_ADDR`` unless ``NUM_PROXIES`` (settings) says how
many trusted proxies append to ``X-Forwarded-For``; a header the client wrote itself
never names a bucket. On Redis each check is one round trip (DRF's sliding log run
as a script inside Redis); other caches use DRF's own code. When the cache is unreachable, trading limits fail open (an
outage must not stop trading) but login limits fail closed (503
``service_unavailable``): brute force is never unlimited.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
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


# DRF's sliding log (every request's time in the window; full once ``limit`` are in it),
# done inside Redis: one round trip instead of DRF's read of the whole log plus a write.
# Returns {1} when allowed (the request's time added), {0, oldest time} when refused.
_SLIDING_LOG = """
local key, now, duration, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, math.ceil(duration * 1000))
return {1}
"""
_scripts: dict[int, object] = {}


def _sliding_log_script(client):
    """The registered script for one Redis client (registering costs no round trip)."""
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_SLIDING_LOG)
    return script


class _SettingsRateThrottle(SimpleRateThrottle):
    fail_closed = False

    def get_rate(self) -> str | None:
        return settings.EXCHANGE_THROTTLE_RATES.get(self.scope)

    def _allow_in_redis(self) -> bool:
        """The sliding log kept in Redis, in one round trip (the key in the cache's key space)."""
        # Its own key: DRF's pickled list under the plain key (left from before) is another type.
        key = caches["default"].make_and_validate_key(f"{self.key}:zlog")
        member = f"{self.now!r}:{secrets.token_hex(4)}"
        result = _sliding_log_script(self._redis_client)(
            keys=[key], args=[repr(self.now), self.duration, self.num_requests, member]
        )
        if int(result[0]) == 1:
            return True
        # What DRF's ``wait`` gives for a full log: until its oldest entry leaves the window.
        self.history = [float(result[1])]
        return self.throttle_failure()

    def wait(self) -> float | None:
        if self._redis_client is None:
            return super().wait()
        return max(self.duration - (self.now - self.history[-1]), 0.0) if self.history else None

    def allow_request(self, request: Request, view) -> bool:
        # The rate may have changed since construction; re-read it per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        # Read the client's input first, outside the guard below: a body that does not parse
        # or is too big is the client's error (a 4xx), not an unreachable cache.
        self.key = self.get_cache_key(request, view)
        self._redis_client = None
        try:
            backend = caches["default"]
            if isinstance(backend, RedisCache):
                self._redis_client = backend._cache.get_client(write=True)
            if self._redis_client is None:
                return super().allow_request(request, view)
            if self.rate is None or self.key is None:
                return True
            self.now = self.timer()
            return self._allow_in_redis()
        except Exception as exc:
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


class PasswordResetThrottle(AuthAccountThrottle):
    """Reset mails per target address, whoever asks (nobody floods an inbox through us)."""

    scope = "password_reset"


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
