"""Start the WebSocket tier: ``WS_PROCESSES`` daphne processes sharing one port.

Each child gets a listening socket of its own bound with ``SO_REUSEPORT`` (passed
with ``daphne --fd``), so the kernel spreads new connections over the live children
and a dead child's socket disappears with it: its clients reconnect and land on the
others. The launcher keeps no copy of the sockets, restarts a child that exits
(after a second) and stops them all on SIGTERM / SIGINT. Each child joins only the
channel-layer groups its own sockets subscribed to; a ws process needs Redis, never
the database for market data (the database is read once per subscribe, for the
market ids, and for ``auth``).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

RESTART_DELAY_SECONDS = 1.0
LISTEN_BACKLOG = 1024


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind to the same port too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


class Command(BaseCommand):
    help = "Run WS_PROCESSES daphne processes on one WebSocket port (SO_REUSEPORT) and keep them running."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-b", "--bind", default="0.0.0.0")
        parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("WS_PORT", "8001")))
        parser.add_argument(
            "--processes",
            type=int,
            default=int(os.environ.get("WS_PROCESSES", "2")),
            help="daphne processes (default: the WS_PROCESSES environment variable, else 2)",
        )

    def handle(self, *args: Any, **opt: Any) -> None:
        if opt["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            # Thousands of sockets per child; children inherit the limit.
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        daphne = str(Path(sys.executable).parent / "daphne")
        host, port = opt["bind"], opt["port"]
        stopping = False

        def spawn(index: int) -> subprocess.Popen:
            sock = listening_socket(host, port)
            try:
                return subprocess.Popen(
                    [daphne, "--fd", str(sock.fileno()), "exchange_site.asgi:application"],
                    pass_fds=[sock.fileno()],
                    env=dict(os.environ, WS_PROCESS_INDEX=str(index)),
                )
            finally:
                sock.close()  # the child's copy is the only one: it goes away with the child

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        children = {i: spawn(i) for i in range(opt["processes"])}
        self.stderr.write(
            f"run_ws: {len(children)} daphne process(es) on {host}:{port}: "
            + ", ".join(str(c.pid) for c in children.values())
        )
        died: dict[int, float] = {}
        while not stopping:
            time.sleep(0.2)
            now = time.monotonic()
            for index, child in children.items():
                if child.poll() is None or index in died:
                    continue
                self.stderr.write(f"run_ws: daphne {child.pid} exited with {child.returncode}; restarting")
                died[index] = now + RESTART_DELAY_SECONDS
            for index, due in list(died.items()):
                if now >= due and not stopping:
                    children[index] = spawn(index)
                    del died[index]
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
