"""``bash bin/run --services``: the Procfile's stack on PostgreSQL + Redis, up, then stopped together by Ctrl-C.

Runs the script as a reader of the README would, on a database that does not exist yet
(the script creates, migrates and seeds it), waits for ``GET /api/v1/health`` to answer
200 (web up, the matcher beating, settlement caught up), then sends SIGINT to it and
checks that every process it started is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tools.harness import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ROOT = Path(settings.BASE_DIR)
PROCESSES = ("web", "ws", "matcher", "worker", "beat")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres", query=""))


@pytest.fixture
def fresh_database_url():
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    name = urlsplit(base).path.lstrip("/") + "_run_services"
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(_admin_url(base), autocommit=True) as conn:
        conn.execute(drop)
    yield url
    with psycopg.connect(_admin_url(base), autocommit=True) as conn:
        conn.execute(drop)


def test_bin_run_services_starts_the_whole_stack_and_ctrl_c_stops_every_process(fresh_database_url, tmp_path):
    port, ws_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": settings.REDIS_URL,
        "PORT": str(port),
        "WS_PORT": str(ws_port),
        "WEB_WORKERS": "1",
        "WS_PROCESSES": "1",
        "LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
    }
    for name in ("SECRET_KEY", "CUSTODY_WEBHOOK_SECRET", "DEBUG"):
        env.pop(name, None)  # as on a developer's machine: DEBUG=1 and generated secrets
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", "bin/run", "--services"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= _descendants(proc.pid)
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=3)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        output = log_path.read_text()
        assert health is not None, output[-3000:]
        assert health.status_code == 200, (health.text, output[-3000:])
        assert {m["symbol"] for m in health.json()["markets"]} == {"BTC-USDT", "ETH-USDT"}
        assert f"created database {urlsplit(fresh_database_url).path.lstrip('/')}" in output
        assert "Demo data ready" in output
        time.sleep(2)  # every process has logged its start by now
        seen |= _descendants(proc.pid)
        output = log_path.read_text()
        for name in PROCESSES:
            assert f"{name}.1 started" in output, output[-3000:]
        assert any(line.split("|")[0].strip().endswith("web.1") for line in output.splitlines() if "|" in line)
        assert len(seen) >= len(PROCESSES)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in seen):
            time.sleep(0.2)
        assert not [p for p in seen if _alive(p)], log_path.read_text()[-3000:]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in seen:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
