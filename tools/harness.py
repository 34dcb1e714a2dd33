"""The process harness: start the Procfile's processes, wait for them, signal them, stop them.

Benchmarks, soaks and the live tests run the real processes as an operator would,
so the command lines come from the ``Procfile`` (``${VAR:-default}`` substituted from
the process's environment) rather than from copies that drift from it. Each process
runs in its own session (process group), so a signal reaches a server's workers too,
and writes to one log file under ``log_dir`` (``var/...`` by default).

    env = process_env(THROTTLE_TRADING="1000000/m")
    with Harness(env=env, log_dir=ROOT / "var" / "bench") as h:
        h.start("web")
        h.start("matcher", "--market", "BTC-USDT")
        h.wait_http("web")
        h.wait_log("matcher", "matching BTC-USDT")
        h.kill("matcher")  # SIGKILL by default
        h.restart("matcher")
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from signal import SIGCONT, SIGKILL, SIGTERM

import httpx
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
PROCFILE = ROOT / "Procfile"
# Limits sized for people; the limits have their own tests.
RAISED_THROTTLES = {
    "THROTTLE_AUTH_IP": "1000000/m",
    "THROTTLE_AUTH_ACCOUNT": "1000000/m",
    "THROTTLE_TRADING": "1000000/m",
}

Log = Callable[[str], None]


class HarnessError(RuntimeError):
    """A process did not start, exited, or did not become ready in time."""


# -- environment ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or LOOPBACK}:{db.get('PORT') or 5432}/{db['NAME']}"


def process_env(*, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for child processes: this process's database, Redis and secrets.

    ``redis_url`` defaults to this process's ``REDIS_URL`` (none: the children run
    without Redis too). Children bind the loopback interface only (``HOST``).
    """
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "CUSTODY_WEBHOOK_SECRET": settings.CUSTODY_WEBHOOK_SECRET,
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "MATCHER_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            "HOST": LOOPBACK,
        }
    )
    url = settings.REDIS_URL if redis_url is None else redis_url
    if url:
        env["REDIS_URL"] = url
    else:
        env.pop("REDIS_URL", None)
    env.update(extra)
    return env


# -- the Procfile -------------------------------------------------------------------


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Expand ``${VAR:-default}``, ``${VAR}`` and ``$VAR`` from ``env`` as a shell would."""

    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        value = env.get(name, "")
        if value == "" and match.group(2) is not None:
            return match.group(2)
        return value

    return _VARIABLE.sub(one, text)


def procfile_read(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's ``name: command`` lines, in order (comments and blanks skipped)."""
    commands: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip().isidentifier():
            raise HarnessError(f"{path}: not a 'name: command' line: {raw!r}")
        commands[name.strip()] = command.strip()
    return commands


def port_variables(command: str) -> list[str]:
    """The variables of a command line that name a port (``PORT``, ``WS_PORT``...)."""
    names = [m.group(1) or m.group(3) for m in _VARIABLE.finditer(command)]
    return [name for name in names if name.endswith("PORT")]


def command_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """Split a Procfile command; ``python`` is this interpreter and tools come from its venv."""
    argv = shlex.split(substitute(command, env))
    if not argv:
        raise HarnessError(f"empty command: {command!r}")
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif "/" not in argv[0] and (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    return argv


# -- one process ----------------------------------------------------------------------


class Process:
    """One started command: its own process group, its own log file."""

    def __init__(self, name: str, argv: list[str], *, env: Mapping[str, str], log_path: Path, port: int | None) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.port = port
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (a server's workers included)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = 30) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def kill(self, sig: int = SIGKILL, timeout: float = 30) -> None:
        """Send ``sig`` (SIGKILL unless told) and wait for the process to end."""
        if self.popen is None:
            return
        self.signal(sig)
        self.wait(timeout)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            if self.popen is not None:
                self.signal(SIGKILL)  # children left behind by a dead leader
            return
        self.signal(SIGCONT)  # a stopped process cannot act on SIGTERM
        self.signal(SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(SIGKILL)
            self.popen.wait()
        self.signal(SIGKILL)

    def group_pids(self) -> list[int]:
        """The pids of the process group: the leader and its workers."""
        if self.popen is None:
            return []
        return [pid for pid in _all_pids() if (_stat(pid) or [0, 0, 0])[2] == self.popen.pid]

    def cpu_seconds(self) -> float:
        """User + system CPU of the live process group (a reaped worker's time counts in its parent's)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.group_pids():
            fields = _stat(pid)
            if fields is not None:
                total += sum(fields[11:15])  # utime, stime, cutime, cstime
        return total / tick

    def wait_log(self, text: str, *, timeout: float = 60, fail_on: Iterable[str] = ()) -> None:
        """Wait until the log shows ``text``; fail fast on any ``fail_on`` text or an exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.output
            if text in output:
                return
            for bad in fail_on:
                if bad in output:
                    raise HarnessError(f"{self.name}: {bad!r} in {self.log_path}")
            if not self.running:
                raise HarnessError(f"{self.name} exited with {self.returncode}; see {self.log_path}:\n{output[-2000:]}")
            time.sleep(0.1)
        raise HarnessError(f"{self.name}: {text!r} not seen within {timeout:g}s; see {self.log_path}")

    def wait_http(self, path: str = "/api/v1/time", *, timeout: float = 60) -> None:
        """Wait until the process answers 200 on ``path``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise HarnessError(
                    f"{self.name} exited with {self.returncode}; see {self.log_path}:\n{self.output[-2000:]}"
                )
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise HarnessError(f"{self.name} did not answer {path} within {timeout:g}s; see {self.log_path}")


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat(pid: int) -> list[int] | None:
    """The fields of /proc/<pid>/stat after the command name, from the state on.

    Index 2 is the process group, 11-14 utime, stime, cutime, cstime (in clock ticks).
    """
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return [int(x) if x.lstrip("-").isdigit() else 0 for x in raw[raw.rindex(")") + 2 :].split()]


# -- the stack --------------------------------------------------------------------------


class Harness:
    """The Procfile's processes (and any extra commands) for one run.

    ``ports`` fixes a process's port (else a free one is taken): it goes into the
    command's ``*PORT`` variables and the process's environment. ``commands`` adds or
    replaces Procfile-syntax lines (e.g. ``{"runexchange": "python manage.py
    runexchange --port ${PORT}"}``).
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_dir: Path,
        procfile: Path = PROCFILE,
        ports: Mapping[str, int] | None = None,
        commands: Mapping[str, str] | None = None,
        log_prefix: str = "",
    ) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.commands = {**procfile_read(procfile), **(commands or {})}
        self.ports = dict(ports or {})
        self.log_prefix = log_prefix
        self.procs: dict[str, Process] = {}
        self.extra_args: dict[str, tuple[str, ...]] = {}
        self.restarts: Counter[str] = Counter()
        self.unexpected_exits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def port(self, name: str) -> int:
        """The process's port, chosen once per harness (stable across restarts)."""
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def url(self, name: str = "web") -> str:
        return f"http://{LOOPBACK}:{self.port(name)}"

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Process:
        """Start ``name`` with ``args`` appended to its Procfile command; returns the process."""
        if name not in self.commands:
            raise HarnessError(f"no process {name!r} in the Procfile or the extra commands")
        command = self.commands[name]
        child_env = {**self.env, **(env or {})}
        port = None
        variables = port_variables(command)
        if variables:
            port = self.port(name)
            child_env.update({v: str(port) for v in variables})
        args = args or self.extra_args.get(name, ())
        self.extra_args[name] = tuple(args)
        argv = [*command_argv(command, child_env), *args]
        proc = Process(name, argv, env=child_env, log_path=self.log_dir / f"{self.log_prefix}{name}.log", port=port)
        with self._lock:
            old = self.procs.get(name)
            if old is not None and old.running:
                raise HarnessError(f"{name} is already running (pid {old.pid})")
            self.procs[name] = proc
        return proc.start()

    def get(self, name: str) -> Process:
        return self.procs[name]

    def pid(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.pid if proc is not None else None

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].signal(sig)

    def kill(self, name: str, sig: int = SIGKILL) -> None:
        """Send ``sig`` (SIGKILL unless told) to the process group and wait until it ended."""
        with self._lock:
            proc = self.procs.pop(name, None)
        if proc is not None:
            proc.kill(sig)

    def restart(self, name: str, *args: str) -> Process:
        """Start ``name`` again (stopping it first if it runs), with the same arguments unless given."""
        proc = self.procs.get(name)
        if proc is not None and proc.running:
            self.stop(name)
        started = self.start(name, *args)
        self.restarts[name] += 1
        return started

    def stop(self, name: str, timeout: float = 15) -> None:
        with self._lock:
            proc = self.procs.pop(name, None)
        if proc is not None:
            proc.stop(timeout)

    def stop_all(self, timeout: float = 15) -> None:
        """SIGTERM every process at once, then SIGKILL what is left after ``timeout``."""
        with self._lock:
            procs, self.procs = list(self.procs.values()), {}
        for proc in procs:
            if proc.running:
                proc.signal(SIGCONT)
                proc.signal(SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            proc.signal(SIGKILL)
            proc.popen.wait()

    def reap_unexpected(self, log: Log) -> list[str]:
        """Restart every process that died on its own, and count it (a crash loop shows here)."""
        with self._lock:
            dead = [p for p in self.procs.values() if not p.running]
        for proc in dead:
            self.unexpected_exits[proc.name] += 1
            log(f"{proc.name} exited on its own with {proc.returncode}; restarting (see {proc.log_path})")
            proc.signal(SIGKILL)
            with self._lock:
                self.procs.pop(proc.name, None)
            self.start(proc.name, *self.extra_args.get(proc.name, ()))
        return [p.name for p in dead]

    def wait_http(self, name: str = "web", path: str = "/api/v1/time", *, timeout: float = 60) -> None:
        self.procs[name].wait_http(path, timeout=timeout)

    def wait_log(self, name: str, text: str, *, timeout: float = 60, fail_on: Iterable[str] = ()) -> None:
        self.procs[name].wait_log(text, timeout=timeout, fail_on=fail_on)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``manage.py`` with the children's environment, as an operator would."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


class PrivateRedis:
    """A throw-away redis-server on a free loopback port that a test may kill at will."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise HarnessError("redis-server is not installed; it is needed for a private Redis")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "--bind", LOOPBACK, "--port", str(self.port), "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise HarnessError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()
        self.restarts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
