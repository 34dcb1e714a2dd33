"""``wait_until``: returns as soon as the condition holds; a failed wait says what it waited for."""

import itertools
import time

import pytest

from tools.waiting import wait_until


def test_returns_the_first_truthy_value_as_soon_as_it_comes():
    calls = itertools.count(1)
    started = time.monotonic()
    assert wait_until(lambda: next(calls) >= 3 and "ready", 5, interval=0.01) == "ready"
    assert time.monotonic() - started < 1


def test_times_out_naming_what_it_waited_for_and_the_last_value():
    with pytest.raises(TimeoutError, match=r"after 0.1 s waiting for the queue to fill; last seen: \[\]"):
        wait_until(lambda: [], 0.1, what="the queue to fill", interval=0.01)


def _refuse() -> bool:
    raise ConnectionRefusedError("not up yet")


def test_ignored_errors_count_as_not_yet_and_are_reported_at_the_timeout():
    attempts = itertools.count(1)

    def up_at_the_third_try() -> bool:
        return next(attempts) >= 3 or _refuse()

    assert wait_until(up_at_the_third_try, 5, interval=0.01, ignore=(OSError,)) is True
    with pytest.raises(TimeoutError, match="ConnectionRefusedError"):
        wait_until(_refuse, 0.1, what="the server", interval=0.01, ignore=(OSError,))


def test_other_errors_propagate_at_once():
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        wait_until(_refuse, 5, ignore=(KeyError,))
    assert time.monotonic() - started < 1
