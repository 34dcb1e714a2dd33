"""Soak under faults (``python manage.py soak``): simulated traders over HTTP while processes are killed.

``setup`` starts the processes and makes the market, ``traders`` and ``chaos`` run in
threads during the soak, ``checks`` judge the result, ``run`` ties them together.
"""

from tools.soak.checks import run_audit, wait_caught_up
from tools.soak.run import SoakConfig, SoakReport, soak_run
from tools.soak.setup import (
    FAULTS,
    WORKER_ARGS,
    SoakMarket,
    SoakRefused,
    access_token,
    soak_harness,
    soak_market_create,
)

__all__ = [
    "FAULTS",
    "WORKER_ARGS",
    "SoakConfig",
    "SoakMarket",
    "SoakRefused",
    "SoakReport",
    "access_token",
    "run_audit",
    "soak_harness",
    "soak_market_create",
    "soak_run",
    "wait_caught_up",
]
