"""Chaos: SIGKILL the chosen processes (or the private Redis) at random moments and start them again."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from tools.harness import Harness, PrivateRedis

Log = Callable[[str], None]


class Chaos:
    """Kill the chosen processes with SIGKILL at random moments, in turn, and start them again."""

    def __init__(
        self,
        *,
        procs: Harness,
        redis: PrivateRedis | None,
        faults: list[str],
        every: float,
        rng: random.Random,
        log: Log,
    ) -> None:
        self.procs = procs
        self.redis = redis
        self.faults = faults
        self.every = every
        self.rng = rng
        self.log = log
        self.redis_outages: list[float] = []

    def run(self, *, until: float, stop: threading.Event) -> None:
        turn = self.rng.randrange(len(self.faults)) if self.faults else 0
        next_kill = time.monotonic() + self._gap() if self.every > 0 and self.faults else float("inf")
        while not stop.is_set() and time.monotonic() < until:
            self.procs.reap_unexpected(self.log)
            if time.monotonic() >= next_kill:
                target = self.faults[turn % len(self.faults)]
                turn += 1
                self.strike(target)
                next_kill = time.monotonic() + self._gap()
            stop.wait(0.1)

    def _gap(self) -> float:
        return self.every * self.rng.uniform(0.5, 1.5)

    def strike(self, target: str) -> None:
        down = self.rng.uniform(0.2, 2.0)
        if target == "redis":
            assert self.redis is not None
            self.log(f"SIGKILL redis-server (down {down:.1f}s)")
            started = time.monotonic()
            self.redis.kill()
            time.sleep(down)
            self.redis.start()
            self.redis.restarts += 1
            self.redis_outages.append(time.monotonic() - started)
            return
        self.log(f"SIGKILL {target} (pid {self.procs.pid(target)}, down {down:.1f}s)")
        self.procs.kill(target)
        time.sleep(down)
