"""A short soak in the suite: the command itself, with SIGKILLs of the matcher and the Celery worker."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def test_short_soak_with_sigkilled_matcher_and_worker_loses_no_order_and_settles_each_trade_once(
    transactional_db, flush_redis, tmp_path
):
    out, err = StringIO(), StringIO()
    args = ["--traders", "6", "--seconds", "15", "--rate", "20", "--kill-every", "4", "--seed", "7"]
    try:
        call_command("soak", *args, "--log-dir", str(tmp_path), stdout=out, stderr=err)
    except CommandError as exc:
        pytest.fail(f"{exc}\n{out.getvalue()}\n{err.getvalue()[-5000:]}")
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, "exactly one JSON line on stdout"
    figures = json.loads(lines[0])
    assert figures["matcher_restarts"] >= 1
    assert figures["worker_restarts"] >= 1
    assert figures["orders_accepted"] > 50
    # The new order types are in the mix: stops, GTD and OCO pairs (amends too, when an order rests).
    kinds = figures["accepted_by_kind"]
    assert kinds.get("stop_limit", 0) + kinds.get("stop_market", 0) > 0
    assert kinds.get("gtd", 0) > 0
    assert figures["order_lists"] > 0
    assert kinds.get("oco_limit", 0) == figures["order_lists"]
    assert figures["trades"] > 0
    assert figures["breaches"] == 0
    assert figures["lost_orders"] == 0
    assert figures["double_settlements"] == 0
    assert figures["server_errors"] == 0
