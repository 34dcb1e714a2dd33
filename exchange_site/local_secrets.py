"""Secrets of the embedded default, generated once and kept in the data folder.

A checkout run without ``SECRET_KEY`` (the embedded default, or DEBUG) must not sign
sessions and tokens with a constant that anyone can read in the source. The first
process to need a secret draws it from ``secrets`` and writes it to
``var/secrets.json`` (mode 0600); every later process of the same checkout (web,
matcher, worker, the test suites and the processes they start) reads the same value.

Imported by settings: it must not import Django.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path


def local_secret(name: str, *, path: Path) -> str:
    """Return the secret ``name`` stored in ``path``, creating it (random) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = _read(path)
    if isinstance(stored.get(name), str) and stored[name]:
        return stored[name]
    # Several processes may start at once on a fresh checkout: the first to take the
    # lock writes, the others read what it wrote.
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        stored = _read(path)
        if not (isinstance(stored.get(name), str) and stored[name]):
            stored[name] = secrets.token_urlsafe(50)
            _write(path, stored)
        return stored[name]
    finally:
        os.close(fd)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # Never replace a damaged file silently: every signed session and token would
        # change meaning. The operator decides.
        raise RuntimeError(f"{path} is unreadable ({exc}); fix or delete it") from exc
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
