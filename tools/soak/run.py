"""Soak under faults: simulated traders over HTTP while processes are killed.

``python manage.py soak`` (and the fault tests) start the real processes of the
Procfile (the web server, ``run_matcher``, a Celery worker and beat, started by
``tools.harness``) on the configured
PostgreSQL database, let N traders place, cancel and trade at random through the REST
API, and meanwhile SIGKILL the matcher, the Celery worker and optionally a private
Redis at random moments and start them again. Afterwards it waits for matching and
settlement to catch up and checks that no accepted order was lost or left stuck, that
no trade was settled twice, and that ``audit_ledger`` passes.

Everything stays on the loopback interface: the web server binds 127.0.0.1 on a free
port and the traders only talk to it. The run is bounded in time and in requests.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection

from markets.models import Market, Order
from tools.harness import ROOT, Harness, PrivateRedis, process_env
from tools.soak.chaos import Chaos, Log
from tools.soak.checks import check_order_lists, check_orders, check_settlement, run_audit, wait_caught_up
from tools.soak.setup import FAULTS, SoakMarket, SoakRefused, soak_harness, soak_market_create, wait_matching
from tools.soak.traders import Tally, TraderBot


@dataclass
class SoakConfig:
    traders: int = 20
    seconds: float = 60
    rate: float = 50
    kill_every: float = 8
    seed: int = 1
    faults: tuple[str, ...] = ("matcher", "worker")
    max_requests: int | None = None
    settle_timeout: float = 180
    log_dir: Path | None = None


@dataclass
class SoakReport:
    figures: dict
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def json_line(self) -> str:
        return json.dumps(self.figures, sort_keys=False)


STACK = ("web", "matcher", "worker", "beat")


def soak_run(config: SoakConfig, *, log: Log) -> SoakReport:
    """Run one soak and check the result; never leaves a process behind."""
    _refuse_unless_runnable(config)
    tag = secrets.token_hex(3).upper()
    log_dir = config.log_dir or ROOT / "var" / "soak" / tag
    log(
        f"soak {tag}: {config.traders} traders, {config.seconds:g}s at {config.rate:g} req/s, "
        f"kill every ~{config.kill_every:g}s ({', '.join(config.faults) or 'no faults'}); logs in {log_dir}"
    )
    setup = soak_market_create(traders=config.traders, tag=tag)
    symbol = setup.market.symbol
    redis = PrivateRedis(log_dir) if "redis" in config.faults else None
    procs: Harness | None = None
    problems: list[str] = []
    tally = Tally()
    try:
        if redis is not None:
            redis.start()
        env = process_env(redis_url=redis.url if redis else settings.REDIS_URL)
        procs = soak_harness(env=env, market=symbol, log_dir=log_dir)
        for name in STACK:
            procs.start(name)
        procs.wait_http("web")
        wait_matching(procs, symbol)
        web_pid = procs.pid("web")
        log(f"stack up at {procs.url()}, market {symbol}")

        trading_seconds = _trade(config, procs, redis, setup, tally, log=log, problems=problems)
        _restore(procs, redis, log=log)
        log("trading stopped; waiting for matching and settlement to catch up")
        catch_up_started = time.monotonic()
        close_old_connections()
        if not wait_caught_up(setup.market.pk, timeout=config.settle_timeout):
            problems.append(f"matching/settlement did not catch up within {config.settle_timeout:g}s")
        catch_up_seconds = time.monotonic() - catch_up_started
        web_restarted = procs.pid("web") != web_pid
        procs.stop_all()

        figures = _judge(config, env, setup.market, tally, procs, redis, problems=problems)
        if web_restarted and "web" not in config.faults:
            problems.append("the web process had to be restarted")
        figures.update(
            problems=len(problems),
            catch_up_seconds=round(catch_up_seconds, 1),
            seconds=round(trading_seconds, 1),
            orders_per_sec=round(len(tally.accepted) / trading_seconds, 1),
            traders=config.traders,
            market=symbol,
        )
        for problem in problems:
            log(f"PROBLEM: {problem}")
        return SoakReport(figures=_in_report_order(figures), problems=problems)
    finally:
        if procs is not None:
            procs.stop_all()
        if redis is not None:
            redis.kill()


def _refuse_unless_runnable(config: SoakConfig) -> None:
    """Raise ``SoakRefused`` with what to change when this configuration cannot soak."""
    if connection.vendor != "postgresql":
        raise SoakRefused(
            "the soak needs PostgreSQL and Redis (set DATABASE_URL=postgres://... and REDIS_URL=redis://...); "
            "SQLite cannot take several writer processes being killed under load"
        )
    unknown = set(config.faults) - set(FAULTS)
    if unknown:
        raise SoakRefused(f"unknown fault(s): {', '.join(sorted(unknown))}; choose from {', '.join(FAULTS)}")
    private_redis = "redis" in config.faults
    if not private_redis and not settings.REDIS_URL:
        raise SoakRefused(
            "the soak needs Redis: set REDIS_URL=redis://... (or add the 'redis' fault for a private one)"
        )
    if private_redis and shutil.which("redis-server") is None:
        raise SoakRefused("redis-server is not installed; the 'redis' fault needs a private one")
    if config.traders < 1 or config.seconds <= 0 or config.rate <= 0:
        raise SoakRefused("traders, seconds and rate must be positive")


def _trade(
    config: SoakConfig,
    procs: Harness,
    redis: PrivateRedis | None,
    setup: SoakMarket,
    tally: Tally,
    *,
    log: Log,
    problems: list[str],
) -> float:
    """Let the traders trade and the chaos strike until the time is up; return the seconds traded."""
    bots = [
        TraderBot(index=i, user=u, base_url=procs.url(), symbol=setup.market.symbol, seed=config.seed, tally=tally)
        for i, u in enumerate(setup.users)
    ]
    stop = threading.Event()
    interval = config.traders / config.rate
    budget_lock = threading.Lock()
    budget_left = [config.max_requests or int(config.rate * config.seconds) + config.traders]

    def budget() -> bool:
        with budget_lock:
            budget_left[0] -= 1
            return budget_left[0] >= 0

    started = time.monotonic()
    until = started + config.seconds
    threads = [
        threading.Thread(
            target=b.run, kwargs={"until": until, "interval": interval, "budget": budget, "stop": stop}, daemon=True
        )
        for b in bots
    ]
    rng = random.Random(config.seed)
    chaos = Chaos(procs=procs, redis=redis, faults=list(config.faults), every=config.kill_every, rng=rng, log=log)
    chaos_thread = threading.Thread(target=chaos.run, kwargs={"until": until, "stop": stop}, daemon=True)
    for t in threads:
        t.start()
    chaos_thread.start()
    while any(t.is_alive() for t in threads):
        # A progress line every 5 s (and one just after the end): pacing, not a wait.
        time.sleep(min(5.0, max(0.1, until - time.monotonic() + 0.5)))
        with tally.lock:
            accepted, requests = len(tally.accepted), tally.requests
        log(
            f"t={time.monotonic() - started:4.0f}s requests={requests} accepted={accepted} "
            f"restarts matcher={procs.restarts['matcher']} worker={procs.restarts['worker']}"
            + (f" redis={redis.restarts}" if redis else "")
        )
        if time.monotonic() > until + 120:
            problems.append("a trader hung for two minutes past the end of the run")
            stop.set()
            break
    trading_seconds = time.monotonic() - started
    stop.set()
    chaos_thread.join(timeout=30)
    return trading_seconds


def _restore(procs: Harness, redis: PrivateRedis | None, *, log: Log) -> None:
    """Everything up again for the catch-up (a kill may have landed at the very end)."""
    procs.reap_unexpected(log)
    for name in STACK:
        if name not in procs.procs:
            procs.restart(name)
    procs.wait_http("web")
    if redis is not None and not redis.running:
        redis.start()


def _judge(
    config: SoakConfig,
    env: dict[str, str],
    market: Market,
    tally: Tally,
    procs: Harness,
    redis: PrivateRedis | None,
    *,
    problems: list[str],
) -> dict:
    """Check orders, settlement and the ledger audit; add what is wrong to ``problems``; return the figures."""
    found = check_orders(market.pk, tally.accepted)
    check_order_lists(tally.order_lists, found)
    # Placed while the answer was lost and never asked again: not accepted, not counted.
    unacknowledged = Order.objects.filter(market=market).exclude(pk__in=list(tally.accepted)).count()
    trades = check_settlement(
        market.pk, list(tally.accepted), found, order_lists=tally.order_lists, amends=tally.amends
    )
    audit_code, breaches, audit_output = run_audit(env)
    if audit_code != 0:
        problems.append(f"audit_ledger exited {audit_code}:\n{audit_output}")
    problems += found.lost_orders + found.double_settlements + found.other
    if tally.unclean_5xx:
        problems.append(
            f"{len(tally.unclean_5xx)} 5xx answers outside the API's error format, e.g. {tally.unclean_5xx[0]}"
        )
    for name, n in procs.unexpected_exits.items():
        problems.append(f"{name} exited on its own {n} time(s)")
    statuses = tally.statuses
    latencies = sorted(tally.place_latencies)
    kinds = Counter(tally.accepted.values())
    return {
        "orders_accepted": len(tally.accepted),
        "accepted_by_kind": dict(sorted(kinds.items())),
        "order_lists": len(tally.order_lists),
        "amends_requested": sum(tally.amends.values()),
        "requests": tally.requests,
        "trades": trades,
        "matcher_restarts": procs.restarts["matcher"],
        "worker_restarts": procs.restarts["worker"],
        "redis_restarts": redis.restarts if redis else 0,
        "beat_restarts": procs.restarts["beat"],
        "web_restarts": procs.restarts["web"],
        "breaches": breaches,
        "lost_orders": len(found.lost_orders),
        "double_settlements": len(found.double_settlements),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "unclean_server_errors": len(tally.unclean_5xx),
        "transport_errors": tally.transport_errors,
        "unacknowledged_orders": unacknowledged,
        "status_counts": {str(s): statuses[s] for s in sorted(statuses)},
        "error_codes": dict(sorted(tally.error_codes.items())),
        "place_latency_ms_p50": _ms(latencies, 0.50),
        "place_latency_ms_p99": _ms(latencies, 0.99),
    }


# The JSON line's keys, in the order the README and earlier runs print them.
REPORT_ORDER = (
    "orders_per_sec", "orders_accepted", "accepted_by_kind", "order_lists", "amends_requested",
    "requests", "trades", "matcher_restarts", "worker_restarts",
    "redis_restarts", "beat_restarts", "web_restarts", "breaches", "lost_orders", "double_settlements",
    "problems", "server_errors", "unclean_server_errors", "transport_errors", "unacknowledged_orders",
    "status_counts", "error_codes", "place_latency_ms_p50", "place_latency_ms_p99", "catch_up_seconds",
    "seconds", "traders", "market",
)  # fmt: skip


def _in_report_order(figures: dict) -> dict:
    return {key: figures[key] for key in REPORT_ORDER}


def _ms(sorted_values: list[float], quantile: float) -> float | None:
    if not sorted_values:
        return None
    return round(1000 * sorted_values[min(len(sorted_values) - 1, int(quantile * len(sorted_values)))], 1)
