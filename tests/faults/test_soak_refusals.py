"""The soak refuses configurations it cannot test honestly, before touching anything."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection


def test_soak_refuses_to_run_on_sqlite_with_a_clear_message():
    if connection.vendor != "sqlite":
        pytest.skip("this pass runs on PostgreSQL")
    with pytest.raises(CommandError, match="needs PostgreSQL and Redis"):
        call_command("soak", "--seconds", "1")


def test_soak_refuses_an_unknown_fault():
    if connection.vendor != "postgresql":
        pytest.skip("refused earlier: SQLite")
    with pytest.raises(CommandError, match="unknown fault"):
        call_command("soak", "--seconds", "1", "--faults", "matcher,database")
