"""Fixtures for the fault tests: a clean Redis database and run_matcher processes to watch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.integration.stack import LOG_DIR, ROOT, process_env


@pytest.fixture
def flush_redis():
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


class MatcherProcess:
    """One ``run_matcher`` subprocess with its own log file, in its own process group."""

    def __init__(self, name: str, *args: str) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path: Path = LOG_DIR / f"faults-{name}.log"
        self.log_path.write_bytes(b"")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "run_matcher", *args],
                cwd=ROOT,
                env=process_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"run_matcher exited with {self.proc.returncode}:\n{self.output}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not seen in time:\n{self.output}")

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def matchers(transactional_db, flush_redis):
    """Start ``run_matcher`` processes by name; every one is killed at the end of the test."""
    started: list[MatcherProcess] = []

    def _start(name: str, *args: str) -> MatcherProcess:
        proc = MatcherProcess(name, *args)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        try:
            proc.signal(signal.SIGCONT)
        except ProcessLookupError:
            pass
        proc.stop()
