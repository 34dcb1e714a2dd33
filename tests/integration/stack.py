"""The live tests' stack: the Procfile's processes on the test database (through tools.harness), traders over HTTP."""

from __future__ import annotations

import signal
import subprocess
from decimal import Decimal

import httpx

from markets.models import Market
from tests.factories import PASSWORD
from tools.harness import RAISED_THROTTLES, ROOT, Harness, Process, free_port
from tools.harness import process_env as harness_env
from tools.soak.checks import caught_up
from tools.waiting import wait_until

__all__ = ["LOG_DIR", "ROOT", "Stack", "Trader", "free_port", "process_env", "wait_settled"]

LOG_DIR = ROOT / "var" / "test-logs"
# runexchange is no Procfile process: it is the one-process trial (bin/run).
EXTRA_COMMANDS = {"runexchange": "python manage.py runexchange --port ${PORT}"}
# Two workers are enough to show concurrency and spare the shared CPUs of a test run.
TEST_WEB = {"WEB_WORKERS": "2", "WEB_THREADS": "1"}
# A quiet worker that starts fast (no cluster chatter with other workers).
QUIET_WORKER = ("-l", "warning", "-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat")
DEFAULT_ARGS = {"worker": QUIET_WORKER}


def process_env(**extra: str) -> dict[str, str]:
    """The children's environment: the test database, this process's Redis, raised limits."""
    return harness_env(**{**RAISED_THROTTLES, **TEST_WEB, **extra})


class Stack:
    """The processes of one live test; ``web`` and ``runexchange`` share ``port``."""

    def __init__(self, *, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.harness = Harness(
            env=env, log_dir=LOG_DIR, ports={"web": port, "runexchange": port}, commands=EXTRA_COMMANDS
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint: the ``ws`` process (daphne), or runexchange's single port."""
        port = self.harness.port("ws") if "ws" in self.harness.procs else self.port
        return f"ws://127.0.0.1:{port}/ws/v1/"

    @property
    def procs(self) -> dict[str, Process]:
        return self.harness.procs

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        """Start a process; ``env`` adds to (or overrides) the stack's environment for it alone."""
        return self.harness.start(name, *(args or DEFAULT_ARGS.get(name, ())), env=env)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.harness.kill(name, sig)

    def stop_all(self) -> None:
        self.harness.stop_all()

    def wait_http(self, timeout: float = 60) -> None:
        for proc in self.harness.procs.values():
            if not proc.running:
                raise RuntimeError(f"{proc.name} exited with {proc.returncode}; see {proc.log_path}")
        for name in ("web", "runexchange", "ws"):
            if name in self.harness.procs:
                self.harness.wait_http(name, timeout=timeout)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.harness.manage(*args, timeout=timeout)


class Trader:
    """A trader driving the live API over HTTP with a real JWT."""

    def __init__(self, base_url: str, user) -> None:
        self.user = user
        self.http = httpx.Client(base_url=base_url, timeout=30)
        resp = self.http.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access']}"

    def place(self, **body) -> httpx.Response:
        body.setdefault("market", "BTC-USDT")
        return self.http.post("/api/v1/orders", json=body)

    def order(self, order_id: int) -> dict:
        return self.http.get(f"/api/v1/orders/{order_id}").json()

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        rows = self.http.get("/api/v1/balances").json()
        return {r["currency"]: (Decimal(r["balance"]), Decimal(r["locked"])) for r in rows}


def wait_settled(market: Market, timeout: float = 60) -> None:
    """Wait until the matcher has taken every command and settlement has caught up."""
    wait_until(lambda: caught_up(market.pk), timeout, what="the matcher and settlement to catch up", interval=0.1)
