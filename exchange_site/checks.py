"""Deployment checks of the exchange's own settings (``manage.py check --deploy``).

Registered when the admin app is ready (exchange_site/admin_apps.py).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

# Secrets that have been public in this repository (old fallbacks, test and example
# values): a deployment using one of them is as good as keyless.
KNOWN_PUBLIC_SECRETS = frozenset(
    {
        "insecure-local-only-" + "x" * 40,
        "local-custody-secret",
        "test-only-secret-key-not-for-production",
        "test-custody-secret",
        "x",
        "y",
        "...",
    }
)
# Words that betray a hand-typed placeholder rather than a random value (six letters or
# more, so a random value contains one by chance about once in ten million).
PLACEHOLDER_WORDS = ("insecure", "secret", "password", "changeme", "change-me", "example", "default")
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128  # estimated from the characters' frequencies


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is not fit to be a production secret, or None when it looks random."""
    if value in KNOWN_PUBLIC_SECRETS:
        return "is a value published in the repository"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    lowered = value.lower()
    for word in PLACEHOLDER_WORDS:
        if word in lowered:
            return f"contains the placeholder word {word!r}"
    if _estimated_bits(value) < MIN_SECRET_BITS:
        return "has too little entropy (too few distinct characters)"
    return None


def _estimated_bits(value: str) -> float:
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


@checks.register(checks.Tags.security, deploy=True)
def secrets_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when SECRET_KEY, CUSTODY_WEBHOOK_SECRET or a set API_KEY_ENCRYPTION_KEY is short, guessable or public."""
    found = []
    named = [("SECRET_KEY", "exchange.W002"), ("CUSTODY_WEBHOOK_SECRET", "exchange.W003")]
    # Optional: without it HMAC API keys are refused (apikeys/crypto.py); when set it must be strong.
    if getattr(settings, "API_KEY_ENCRYPTION_KEY", ""):
        named.append(("API_KEY_ENCRYPTION_KEY", "exchange.W009"))
    for name, check_id in named:
        weakness = secret_weakness(str(getattr(settings, name, "") or ""))
        if weakness:
            found.append(
                checks.Warning(
                    f"{name} {weakness}.",
                    hint=f"Set {name} to a long random value, e.g. from secrets.token_urlsafe(50).",
                    id=check_id,
                )
            )
    return found


VERIFYING_SSLMODES = ("verify-ca", "verify-full")


@checks.register(checks.Tags.security, deploy=True)
def internal_tls_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when PostgreSQL or Redis is reached in plain text (or without checking the server)."""
    if settings.EMBEDDED or not settings.INTERNAL_TLS_REQUIRED:
        return []
    return internal_tls_warnings(
        database=settings.DATABASES["default"], redis_url=settings.REDIS_URL, redis_ca_cert=settings.REDIS_CA_CERT
    )


def internal_tls_warnings(*, database: dict[str, Any], redis_url: str, redis_ca_cert: str) -> list[checks.Warning]:
    """What ``internal_tls_check`` reports for these connection settings."""
    found = []
    silence = "or set INTERNAL_TLS_REQUIRED=0 when they run on this host only."
    options = database.get("OPTIONS") or {}
    on_socket = str(database.get("HOST") or "").startswith("/")
    if database["ENGINE"].endswith("postgresql") and not on_socket and options.get("sslmode") not in VERIFYING_SSLMODES:
        found.append(
            checks.Warning(
                "DATABASE_URL does not require a verified TLS connection to PostgreSQL.",
                hint=f"Add ?sslmode=verify-full&sslrootcert=/path/to/ca.pem to DATABASE_URL, {silence}",
                id="exchange.W004",
            )
        )
    if redis_url and not redis_url.startswith(("rediss://", "unix://")):
        found.append(
            checks.Warning(
                "REDIS_URL is not a rediss:// (TLS) URL.",
                hint=f"Use rediss://... and REDIS_CA_CERT=/path/to/ca.pem, {silence}",
                id="exchange.W005",
            )
        )
    for name, path in (("sslrootcert of DATABASE_URL", options.get("sslrootcert")), ("REDIS_CA_CERT", redis_ca_cert)):
        if path and path != "system" and not Path(path).is_file():
            found.append(checks.Warning(f"{name} names a file that does not exist: {path}.", id="exchange.W006"))
    return found
