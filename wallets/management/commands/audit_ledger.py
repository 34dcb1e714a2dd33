"""Check every ledger invariant; print a table per currency and each breach; exit 1 on any breach."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from exchange_site.money import fmt
from wallets.audit import AuditReport, ledger_audit

COLUMNS = (
    "currency",
    "total balances",
    "credited deposits",
    "completed withdrawals",
    "total locked",
    "expected locked",
    "result",
)


class Command(BaseCommand):
    help = "Audit the ledger against the invariants of DESIGN.md; exits 1 on any breach."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=10.0,
            help="Seconds to wait for settlement to catch up with matching (default 10).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_audit(wait_seconds=options["wait"])
        self.stdout.write(_table(report))
        for breach in report.breaches:
            self.stdout.write(self.style.ERROR(f"BREACH {breach}"))
        hidden = report.breach_count - len(report.breaches)
        if hidden:
            self.stdout.write(self.style.ERROR(f"... and {hidden} more breaches"))
        if not report.ok:
            self.stdout.write(self.style.ERROR(f"{report.breach_count} breach(es) found."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("All invariants hold."))


def _table(report: AuditReport) -> str:
    rows = [
        (
            s.currency,
            fmt(s.total_balance),
            fmt(s.credited_deposits),
            fmt(s.completed_withdrawals),
            fmt(s.total_locked),
            fmt(s.expected_locked),
            "ok" if s.ok else "BREACH",
        )
        for s in report.currencies
    ]
    widths = [max(len(str(r[i])) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            str(cell).ljust(w) if i in (0, len(COLUMNS) - 1) else str(cell).rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [COLUMNS, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
