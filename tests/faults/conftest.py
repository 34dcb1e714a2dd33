"""Fixtures for the fault tests: a clean Redis database and run_matcher processes to watch."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.integration.stack import process_env
from tools.harness import Harness, Process


class MatcherProcess:
    """One ``run_matcher`` (the Procfile's ``matcher`` line) under its own name and log file."""

    def __init__(self, harness: Harness, name: str, *args: str) -> None:
        harness.commands[name] = harness.commands["matcher"]
        self.process: Process = harness.start(name, *args)

    @property
    def proc(self) -> subprocess.Popen:
        assert self.process.popen is not None
        return self.process.popen

    @property
    def output(self) -> str:
        return self.process.output

    def wait_for(self, text: str, timeout: float = 45) -> None:
        self.process.wait_log(text, timeout=timeout)

    def signal(self, sig: int) -> None:
        self.process.signal(sig)


@pytest.fixture
def matchers(transactional_db, flush_redis, tmp_path):
    """Start ``run_matcher`` processes by name; every one is killed at the end of the test."""
    harness = Harness(env=process_env(), log_dir=tmp_path, log_prefix="faults-")

    def _start(name: str, *args: str) -> MatcherProcess:
        return MatcherProcess(harness, name, *args)

    yield _start
    for name in list(harness.procs):
        harness.kill(name, signal.SIGKILL)
