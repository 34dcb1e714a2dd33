"""Shared pieces of the security tests: the error-format check, row counts, fuzz figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection


def assert_error_format(response, *, status: int | tuple[int, ...] | None = None) -> dict:
    """A 4xx in the API's error format: ``{"error": {"code", "message", "details"}}``."""
    allowed = (status,) if isinstance(status, int) else status
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if allowed is not None:
        assert response.status_code in allowed, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str), error
    assert error["code"].replace("_", "").isalpha(), error
    assert error["code"] == error["code"].lower(), error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["details"], dict), error
    return error


_COUNTED_APPS = {"accounts", "markets", "wallets", "token_blacklist", "otp_totp", "otp_static"}


def row_counts() -> dict[str, int]:
    """Rows of every model of the project's apps and of the token and OTP tables, in one query."""
    models = [m for m in apps.get_models() if m._meta.app_label in _COUNTED_APPS and m._meta.managed]
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        counts = cursor.fetchone()
    return {m._meta.label: n for m, n in zip(models, counts, strict=True)}


def state() -> dict[str, object]:
    """Row counts plus every mutable money and status column: what a refused request must leave alone."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from markets.models import Order
    from wallets.models import Wallet, Withdrawal

    return {
        "rows": row_counts(),
        # Money is compared in Python: on SQLite it is stored as text.
        "wallets": sorted((w.user_id, w.currency_id, str(w.balance), str(w.locked)) for w in Wallet.objects.all()),
        "orders": sorted(Order.objects.values_list("id", "status", "cancel_requested_at")),
        "withdrawals": sorted(Withdrawal.objects.values_list("id", "status", "txid")),
        "devices": sorted(TOTPDevice.objects.values_list("id", "confirmed")),
        "users": sorted(User.objects.values_list("id", "email", "is_active", "is_staff", "is_superuser")),
    }


@dataclass
class FuzzStats:
    """What the schemathesis run did: cases per operation and status codes seen."""

    cases: int = 0
    per_operation: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    by_operation_status: Counter = field(default_factory=Counter)

    def record(self, label: str, status: int) -> None:
        self.cases += 1
        self.per_operation[label] += 1
        self.statuses[status] += 1
        self.by_operation_status[(label, status)] += 1

    def details(self) -> list[str]:
        lines = []
        for label in sorted(self.per_operation, key=lambda x: (x.split(" ", 1)[1], x)):
            codes = ", ".join(
                f"{status}: {n}" for (op, status), n in sorted(self.by_operation_status.items()) if op == label
            )
            lines.append(f"{label}: {self.per_operation[label]} cases ({codes})")
        return lines

    def summary(self) -> str:
        server_errors = sum(n for status, n in self.statuses.items() if status >= 500)
        codes = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.cases} cases over {len(self.per_operation)} operations; 5xx: {server_errors}; statuses {{{codes}}}"
        )


FUZZ_STATS = FuzzStats()
# Requests of the hand-written tests by family, printed at the end of the run.
HAND_WRITTEN = Counter()


def refused_and_unchanged(send: Callable[[], object], label: str, failures: list[str], *, kind: str) -> None:
    """Send one hostile request; note in ``failures`` a crash, an answer outside the error format, or a change.

    ``kind`` names the family of hand-written requests it is counted under.
    """
    HAND_WRITTEN[kind] += 1
    before = state()
    try:
        response = send()
    except Exception as exc:  # noqa: BLE001 - a crash is what these tests look for
        failures.append(f"{label}: raised {type(exc).__name__}: {str(exc)[:200]}")
        return
    try:
        assert_error_format(response)
    except AssertionError as exc:
        failures.append(f"{label}: {str(exc)[:300]}")
        return
    if state() != before:
        failures.append(f"{label}: answered {response.status_code} but changed the database")


def report_failures(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} hostile requests were not refused cleanly:\n" + "\n".join(failures)
