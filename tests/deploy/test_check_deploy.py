"""Production settings pass Django's deployment checklist and send the security headers."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# check --deploy only checks that the CA file exists; nothing connects here.
CA = str(Path(__file__).resolve())


def production_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            # Internal traffic over verified TLS.
            "DATABASE_URL": f"postgres://postgres@db.internal:5432/exchange_prod_check?sslmode=verify-full&sslrootcert={CA}",
            "REDIS_URL": "rediss://redis.internal:6379/0",
            "REDIS_CA_CERT": CA,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CUSTODY_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "exchange.example.com",
            "DEBUG": "0",
        }
    )
    for name in ("SECURE_SSL_REDIRECT", "INTERNAL_TLS_REQUIRED", "NUM_PROXIES"):
        env.pop(name, None)
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CUSTODY_WEBHOOK_SECRET"])
def test_a_missing_production_secret_is_a_clear_startup_error(missing):
    env = production_env()
    env.pop(missing)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


@pytest.mark.django_db
def test_responses_carry_security_headers(client):
    resp = client.get("/api/v1/time", secure=True)
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["X-Frame-Options"] == "DENY"
    if not settings.EMBEDDED:
        assert "max-age=31536000" in resp["Strict-Transport-Security"]
        assert settings.SESSION_COOKIE_SECURE
        assert settings.CSRF_COOKIE_SECURE


def test_weak_passwords_are_refused_at_registration(db, client):
    for weak in ("password", "12345678901", "short1!"):
        resp = client.post(
            "/api/v1/auth/register", {"email": "w@example.com", "password": weak}, content_type="application/json"
        )
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "validation_error"
