"""Benchmark the REST endpoints on the real stack; one JSON line on stdout, progress on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tools.bench_rest import ENDPOINTS, BenchConfig, BenchRefused, bench_rest_run
from tools.cli import comma_list, config_from_options, stderr_log


class Command(BaseCommand):
    help = (
        "Start the Procfile's processes on the configured PostgreSQL + Redis and drive the web process with wrk, "
        "endpoint by endpoint (market data, authenticated reads, order placement, cancel). Prints one JSON line: "
        "req/s, p50/p99, non-2xx/5xx, web CPU ms per request and each rate as a ratio to GET /time; then audits "
        "the ledger."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=15, help="Seconds of load per endpoint (default 15).")
        parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16).")
        parser.add_argument("--threads", type=int, default=2, help="wrk threads, 1-2 (default 2).")
        parser.add_argument("--traders", type=int, default=40, help="Funded traders whose tokens rotate (default 40).")
        parser.add_argument(
            "--only", type=comma_list, default=ENDPOINTS, help=f"Comma-separated subset of {', '.join(ENDPOINTS)}."
        )
        parser.add_argument("--web-workers", type=int, default=None, help="WEB_WORKERS for the web process.")
        parser.add_argument("--web-threads", type=int, default=None, help="WEB_THREADS for the web process.")
        parser.add_argument(
            "--web-command",
            default=None,
            help="Replace the Procfile's web line (Procfile syntax, ${PORT} is the port), to compare servers.",
        )
        parser.add_argument(
            "--log-dir", type=Path, default=None, help="Logs and scripts (default var/bench_rest/<tag>/)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = config_from_options(BenchConfig, options, threads=min(options["threads"], options["connections"]))
        try:
            figures = bench_rest_run(config, log=stderr_log(self, "bench_rest: "))
        except BenchRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(figures))
        self.stdout.flush()
        if not figures["audit_ok"]:
            raise CommandError("audit_ledger failed after the run; see above")
