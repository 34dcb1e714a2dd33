"""Deployment checks of the exchange's own settings (``manage.py check --deploy``).

Registered when the admin app is ready (exchange_site/admin_apps.py).
"""

from __future__ import annotations

import math
from collections import Counter
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
    """Warn when SECRET_KEY or CUSTODY_WEBHOOK_SECRET is short, guessable or public."""
    found = []
    for name, check_id in (("SECRET_KEY", "exchange.W002"), ("CUSTODY_WEBHOOK_SECRET", "exchange.W003")):
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
