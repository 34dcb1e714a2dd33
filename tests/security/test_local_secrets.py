"""Finding 2: no setting falls back to a public constant; weak secrets are reported.

The embedded default draws its secrets at random on first run and keeps them in
var/secrets.json (mode 0600); ``check --deploy`` warns about a weak or published secret.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

from exchange_site.checks import KNOWN_PUBLIC_SECRETS, secret_weakness, secrets_check
from exchange_site.local_secrets import local_secret

ROOT = Path(__file__).resolve().parents[2]
OLD_FALLBACKS = ("insecure-local-only-" + "x" * 40, "local-custody-secret")


def embedded_secrets(secrets_file: Path, **extra: str) -> dict[str, str]:
    """The secrets a fresh process of this checkout sees with no secret in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    env.pop("CUSTODY_WEBHOOK_SECRET", None)
    env.pop("API_KEY_ENCRYPTION_KEY", None)
    env.update({"LOCAL_SECRETS_FILE": str(secrets_file), "DJANGO_SETTINGS_MODULE": "exchange_site.settings", **extra})
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.SECRET_KEY, settings.CUSTODY_WEBHOOK_SECRET, settings.API_KEY_ENCRYPTION_KEY]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    key, custody, api_keys = json.loads(out.stdout.strip().splitlines()[-1])
    return {"SECRET_KEY": key, "CUSTODY_WEBHOOK_SECRET": custody, "API_KEY_ENCRYPTION_KEY": api_keys}


def test_the_embedded_default_generates_random_secrets_and_keeps_them_private(tmp_path):
    first = embedded_secrets(tmp_path / "a" / "secrets.json")
    other_checkout = embedded_secrets(tmp_path / "b" / "secrets.json")

    for name, value in first.items():
        assert value not in OLD_FALLBACKS
        assert value not in KNOWN_PUBLIC_SECRETS
        assert secret_weakness(value) is None, (name, value)
        assert value != other_checkout[name]
    assert len(set(first.values())) == len(first)
    mode = stat.S_IMODE((tmp_path / "a" / "secrets.json").stat().st_mode)
    assert mode == 0o600
    assert json.loads((tmp_path / "a" / "secrets.json").read_text()) == first


def test_later_processes_of_the_same_checkout_reuse_the_stored_secrets(tmp_path):
    path = tmp_path / "secrets.json"
    first = embedded_secrets(path)

    assert embedded_secrets(path) == first
    assert embedded_secrets(path, DEBUG="1") == first
    assert local_secret("SECRET_KEY", path=path) == first["SECRET_KEY"]


def test_a_secret_given_in_the_environment_wins_and_is_not_stored(tmp_path):
    path = tmp_path / "secrets.json"
    given = secrets.token_urlsafe(50)

    assert embedded_secrets(path, SECRET_KEY=given)["SECRET_KEY"] == given
    assert "SECRET_KEY" not in json.loads(path.read_text())


def test_the_old_constant_fallbacks_are_gone_from_the_settings():
    source = (ROOT / "exchange_site" / "settings.py").read_text()

    for constant in OLD_FALLBACKS:
        assert constant not in source


def test_check_deploy_reports_a_weak_or_published_secret(settings):
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.CUSTODY_WEBHOOK_SECRET = secrets.token_urlsafe(32)
    assert secrets_check() == []

    for weak in (*OLD_FALLBACKS, "short", "a" * 80, "ab" * 40, "my-super-secret-key-for-the-exchange-1234"):
        settings.SECRET_KEY = weak
        settings.CUSTODY_WEBHOOK_SECRET = weak
        assert [m.id for m in secrets_check()] == ["exchange.W002", "exchange.W003"], weak


def test_manage_check_deploy_fails_on_the_old_fallback_secret():
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/exchange_prod_check",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CUSTODY_WEBHOOK_SECRET": "local-custody-secret",
            "ALLOWED_HOSTS": "exchange.example.com",
            "DEBUG": "0",
            "INTERNAL_TLS_REQUIRED": "0",
        }
    )
    env.pop("SECURE_SSL_REDIRECT", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "exchange.W003" in result.stderr + result.stdout
