"""Print a demo account's current one-time password, for logging in to the admin locally.

Only on the embedded default or with DEBUG=1 (like ``seed_demo``), and only for the
accounts ``seed_demo`` creates: it reads an authenticator secret, which a deployment must
never hand out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from tools import demo


class Command(BaseCommand):
    help = "Print the current one-time password of a seed_demo account (local trials only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email", nargs="?", default=demo.ADMIN_EMAIL, help=f"default {demo.ADMIN_EMAIL}")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        if not demo.demo_allowed():
            raise CommandError("demo_otp runs only on the embedded default (no DATABASE_URL) or with DEBUG=1.")
        email = email.strip().lower()
        if email not in demo.DEMO_EMAILS:
            raise CommandError(f"demo_otp prints codes of the seed_demo accounts only: {', '.join(demo.DEMO_EMAILS)}")
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"{email} does not exist: run python manage.py seed_demo first.")
        code = demo.current_code(user)
        if code is None:
            raise CommandError(f"{email} has no authenticator (2FA off).")
        start, until = (_clock(t) for t in (code.valid_from, code.valid_until))
        self.stdout.write(code.code)
        # Each code opens one login; after a login the next one is shown, accepted from the step before it.
        self.stderr.write(f"code of {start}-{until} UTC (one login per code)")


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S")
