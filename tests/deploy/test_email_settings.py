"""Email settings: the console without EMAIL_HOST, SMTP from the environment, bad values stop the start."""

import subprocess
import sys

import pytest

from .test_check_deploy import ROOT, production_env

SHOW = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_USER, s.DEFAULT_FROM_EMAIL)"
)


def _settings(**extra: str) -> subprocess.CompletedProcess:
    env = production_env(DJANGO_SETTINGS_MODULE="exchange_site.settings", **extra)
    for name in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS"):
        if name not in extra:
            env.pop(name, None)
    return subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_without_a_host_mail_goes_to_the_console():
    result = _settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("django.core.mail.backends.console.EmailBackend")


def test_smtp_settings_come_from_the_environment():
    result = _settings(
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="465",
        EMAIL_USE_TLS="0",
        EMAIL_HOST_USER="mailer",
        EMAIL_HOST_PASSWORD="s3cret-from-the-vault",
        DEFAULT_FROM_EMAIL="Exchange <ops@example.com>",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "465",
        "False",
        "mailer",
        "Exchange",
        "<ops@example.com>",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"EMAIL_HOST": "smtp.example.com", "EMAIL_HOST_USER": "mailer"}, "EMAIL_HOST_PASSWORD must be set"),
        ({"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "smtp"}, "EMAIL_PORT must be"),
        ({"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "70000"}, "EMAIL_PORT must be"),
        ({"DEFAULT_FROM_EMAIL": "nobody"}, "DEFAULT_FROM_EMAIL must be"),
    ],
)
def test_bad_email_settings_stop_the_start(extra, message):
    result = _settings(**extra)
    assert result.returncode != 0
    assert message in result.stderr
