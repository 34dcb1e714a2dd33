"""gunicorn settings for the ``web`` process (REST, admin, OpenAPI pages); see docs/PERFORMANCE.md.

Sized from the environment so the Procfile line stays short:
``WEB_WORKERS`` processes (default 2 x CPU cores) of ``WEB_THREADS`` threads each
(default 1: sync workers). Each worker thread keeps one PostgreSQL connection for
its lifetime (``CONN_MAX_AGE``), opened when the worker starts rather than by a
request. WebSockets are served by daphne (the ``ws`` process), never here.
"""

import multiprocessing
import os

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_WORKERS") or 2 * multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 1)
worker_class = "gthread" if threads > 1 else "sync"
# The API answers in milliseconds; a request still running after this is stuck.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
# Recycle workers now and then (a slow leak must not grow forever); jitter spreads restarts.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# No preload: a worker must never inherit the master's database or Redis sockets.
preload_app = False
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
proc_name = "exchange-web"
# No runtime control socket: one fixed path per user would be shared by every gunicorn
# on the machine, and nothing here needs gunicornc.
control_socket_disable = True


def post_worker_init(worker):
    """Open the worker's database connection now, so no request pays for it."""
    from django.conf import settings
    from django.db import connection

    if settings.IS_POSTGRES:
        connection.ensure_connection()
