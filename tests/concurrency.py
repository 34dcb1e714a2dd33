"""Run functions at the same instant in threads, the way concurrent requests hit a service."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def race(*funcs: Callable[[], object], timeout: float = 30) -> list[object]:
    """Run each function in its own thread, all released together; return each result or exception, in order.

    Each thread closes its database connections when done (Django opens one per thread).
    """
    barrier = threading.Barrier(len(funcs))
    results: list[object] = [None] * len(funcs)

    def run(i: int, func: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[i] = func()
        except Exception as exc:  # noqa: BLE001 - collected for the caller's assertion
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(funcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results
