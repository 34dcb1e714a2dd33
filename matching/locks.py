"""One matcher per market: a PostgreSQL advisory lock, or a file lock on SQLite."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from django.conf import settings
from django.db import connection

# Namespace for advisory-lock keys so they cannot collide with other users of the DB.
_LOCK_NAMESPACE = 0x4D41  # "MA"


class MarketLock:
    """Held for the lifetime of the matcher; released when the process dies."""

    def __init__(self, market_id: int) -> None:
        self.market_id = market_id
        self._conn = None
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if connection.vendor == "postgresql":
            import psycopg

            if self._conn is None:
                params = connection.get_connection_params()
                params.pop("cursor_factory", None)
                params.pop("context", None)
                self._conn = psycopg.connect(autocommit=True, **params)
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_NAMESPACE, self.market_id)
            ).fetchone()
            return bool(row and row[0])
        lock_dir = Path(settings.MATCHER_LOCK_DIR)
        lock_dir.mkdir(parents=True, exist_ok=True)
        db_tag = Path(str(settings.DATABASES["default"]["NAME"])).name
        if self._fd is None:
            self._fd = os.open(lock_dir / f"matcher-{db_tag}-{self.market_id}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
