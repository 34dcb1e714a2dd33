"""Mail in the tests: Celery tasks run in the test process, and a backend that fails on demand.

Django's test environment sends through the locmem backend (``mail.outbox``). On the
PostgreSQL pass Celery has a real broker; ``eager_tasks`` runs the tasks in the test
process instead, as the embedded default always does (the tests check what is sent,
not the broker).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.mail.backends.locmem import EmailBackend

from exchange_site.celery import app


@contextmanager
def eager_tasks() -> Iterator[None]:
    # Not propagating: an eager task's retry then runs again at once, as a worker would
    # run it after the backoff (propagating, Celery raises the Retry instead).
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


class FlakyBackend(EmailBackend):
    """The locmem backend, refusing the next ``failures`` sends like an SMTP server that is down."""

    failures = 0
    attempts = 0

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise ConnectionRefusedError("SMTP server down")
        return super().send_messages(messages)


FLAKY = "tests.mail.FlakyBackend"
