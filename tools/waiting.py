"""Wait for a condition with a deadline instead of sleeping a fixed time and hoping.

Tests, soaks and benchmarks share this one helper: a wait returns as soon as the
condition holds, and a wait that fails says what it was waiting for and what it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    *,
    what: str = "the condition",
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Exceptions of the ``ignore`` types count as "not yet" (a server still starting);
    any other exception propagates at once. After ``timeout`` seconds raise
    ``TimeoutError`` naming ``what`` and the last value or error seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            last: object = predicate()
        except ignore as exc:
            last = exc
        else:
            if last:
                return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)
