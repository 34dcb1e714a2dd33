"""Soak the real stack under faults; one JSON line of figures on stdout, progress on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tools.cli import comma_list, config_from_options, stderr_log
from tools.soak import FAULTS, SoakConfig, SoakRefused, soak_run


class Command(BaseCommand):
    help = (
        "Start the Procfile's web server, run_matcher, a Celery worker and beat on the configured "
        "PostgreSQL + Redis, let "
        "simulated traders trade over HTTP (loopback only) while processes are SIGKILLed and restarted, "
        "then check that no accepted order was lost, no trade settled twice and audit_ledger passes. "
        "Prints one JSON line; exits 1 on any problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--traders", type=int, default=20, help="Simulated traders (default 20).")
        parser.add_argument("--seconds", type=float, default=60, help="How long they trade (default 60).")
        parser.add_argument("--rate", type=float, default=50, help="Requests per second, all traders (default 50).")
        parser.add_argument(
            "--kill-every", type=float, default=8, help="Mean seconds between two SIGKILLs; 0 for none (default 8)."
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--faults",
            type=comma_list,
            default=("matcher", "worker"),
            help=f"Comma-separated processes to kill in turn, among {', '.join(FAULTS)} "
            "('redis' runs a private redis-server on a free port; default matcher,worker).",
        )
        parser.add_argument(
            "--max-requests", type=int, default=None, help="Hard cap on requests (default rate x seconds)."
        )
        parser.add_argument(
            "--settle-timeout", type=float, default=180, help="Seconds allowed to catch up afterwards (default 180)."
        )
        parser.add_argument("--log-dir", type=Path, default=None, help="Process logs (default var/soak/<tag>/).")

    def handle(self, *args: Any, **options: Any) -> None:
        config = config_from_options(SoakConfig, options)
        try:
            report = soak_run(config, log=stderr_log(self, "soak: "))
        except SoakRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(report.json_line())
        self.stdout.flush()
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s) found; see above")
