"""The ``web`` process: REST, the admin and the OpenAPI pages on granian (WSGI).

``python -m exchange_site.web --host 0.0.0.0 --port 8000`` (the Procfile's ``web``
line). granian parses HTTP and keeps client connections in Rust and hands each request
to one of a worker's Python threads: about half the CPU per request of gunicorn's
workers and a seventh of daphne's (docs/PERFORMANCE.md, "Choosing the HTTP server").
Sized from the environment:

- ``WEB_WORKERS`` worker processes (default: one per CPU core);
- ``WEB_THREADS`` Python threads per worker (default 4): each keeps one PostgreSQL
  connection for its life (settings ``CONN_MAX_AGE``, checked before reuse), so at most
  ``WEB_WORKERS x WEB_THREADS`` connections and none opened per request;
- ``WEB_BACKLOG`` (default 1024), ``WEB_ACCESS_LOG`` (``1`` logs every request).

WebSockets are served by daphne (the ``ws`` process), never here.
"""

from __future__ import annotations

import argparse
import os

# A thread that sat idle this long ends and its connection closes with it; the
# maximum granian allows, so traffic pauses do not make the next requests reconnect.
THREAD_IDLE_SECONDS = 600


def settings_from_env(env: os._Environ | dict[str, str] = os.environ) -> dict[str, int | bool]:
    """The server's sizing from ``WEB_*`` variables, with the documented defaults."""
    return {
        # Measured on 2 cores: 2 workers x 4 threads took 0.29-0.37 ms of CPU per request
        # where 4 x 2 took 0.37-0.66 (docs/PERFORMANCE.md); threads overlap database waits.
        "workers": int(env.get("WEB_WORKERS") or os.cpu_count() or 1),
        "blocking_threads": int(env.get("WEB_THREADS") or 4),
        "backlog": int(env.get("WEB_BACKLOG") or 1024),
        "log_access": (env.get("WEB_ACCESS_LOG") or "0").lower() in {"1", "true", "yes", "on"},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST") or "0.0.0.0")  # a server
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_site.settings")

    from granian.constants import Interfaces
    from granian.server import Server

    Server(
        "exchange_site.wsgi:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        websockets=False,
        blocking_threads_idle_timeout=THREAD_IDLE_SECONDS,
        # A worker that died is started again.
        respawn_failed_workers=True,
        respawn_interval=1.0,
        workers_kill_timeout=10,
        **settings_from_env(),
    ).serve()


if __name__ == "__main__":
    main()
