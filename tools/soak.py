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
import logging
import random
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.db import close_old_connections, connection

from accounts.models import User
from accounts.selectors import fee_account
from markets.models import Currency, Market, Order, Trade
from tools.harness import ROOT, Harness, HarnessError, PrivateRedis, free_port, process_env
from wallets.deposits import custody_deposit_notify, deposit_address_get
from wallets.models import LedgerEntry, SettlementCursor

__all__ = ["PrivateRedis", "free_port", "process_env", "soak_harness", "soak_market_create", "soak_run"]

FAULTS = ("matcher", "worker", "beat", "web", "redis")

Log = Callable[[str], None]

# One line per request would drown the progress lines.
logging.getLogger("httpx").setLevel(logging.WARNING)


class SoakRefused(Exception):
    """The soak cannot run in this configuration (e.g. on SQLite)."""


# -- processes -------------------------------------------------------------------

# Quiet, fast-starting Celery processes; beat keeps its schedule file with the logs.
WORKER_ARGS = ("-l", "warning", "-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat")
SOAK_WEB = {"WEB_WORKERS": "2", "WEB_THREADS": "1"}


def soak_harness(*, env: dict[str, str], market: str, log_dir: Path) -> Harness:
    """A harness whose matcher, worker and beat take the soak's arguments on every (re)start."""
    procs = Harness(env={**SOAK_WEB, **env}, log_dir=log_dir)
    procs.extra_args.update(
        {
            "matcher": ("--market", market),
            "worker": WORKER_ARGS,
            "beat": ("-l", "warning", "-s", str(log_dir / "celerybeat-schedule")),
        }
    )
    return procs


def wait_matching(procs: Harness, market: str, timeout: float = 60) -> None:
    """Wait until our matcher holds the market (not another matcher on this database)."""
    try:
        procs.wait_log("matcher", f"matching {market}", timeout=timeout, fail_on=["another matcher holds market"])
    except HarnessError as exc:
        if "another matcher holds market" in str(exc):
            raise SoakRefused(
                f"another run_matcher on this database holds {market}; stop it (or give it --market)"
            ) from exc
        raise


# -- the market and the traders ------------------------------------------------


@dataclass
class SoakMarket:
    market: Market
    users: list[User]


RETRIES = 10
PRICE = Decimal("100")
TICK = Decimal("0.01")
LOT = Decimal("0.001")
BASE_FUNDING = Decimal("10000")
QUOTE_FUNDING = Decimal("1000000")


def soak_market_create(
    *,
    traders: int,
    tag: str,
    kind: str = "soak",
    base_funding: Decimal = BASE_FUNDING,
    quote_funding: Decimal = QUOTE_FUNDING,
    min_notional: Decimal = Decimal("1"),
) -> SoakMarket:
    """Create a fresh market and funded traders; funding goes through custody deposits so audits balance.

    ``kind`` names the run in currency codes, names and e-mails (the soak, bench_ws).
    """
    prefix = kind[0].upper()
    base, _ = Currency.objects.get_or_create(
        code=f"{prefix}B{tag}",
        defaults={"name": f"{kind.capitalize()} base {tag}", "precision": 8, "min_confirmations": 1},
    )
    quote, _ = Currency.objects.get_or_create(
        code=f"{prefix}Q{tag}",
        defaults={"name": f"{kind.capitalize()} quote {tag}", "precision": 8, "min_confirmations": 1},
    )
    market = Market.objects.create(
        symbol=f"{base.code}-{quote.code}",
        base=base,
        quote=quote,
        tick_size=TICK,
        lot_size=LOT,
        min_qty=LOT,
        min_notional=min_notional,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
    )
    fee_account()
    users = []
    for i in range(traders):
        user = User.objects.create_user(email=f"{kind}-{tag.lower()}-{i}@{kind}.invalid", password=None)
        for currency, amount in ((base, base_funding), (quote, quote_funding)):
            address = deposit_address_get(user=user, currency=currency).address
            custody_deposit_notify(
                currency_code=currency.code,
                address=address,
                amount=amount,
                txid=f"{kind}-{tag}-{i}-{currency.code}",
                confirmations=currency.min_confirmations,
            )
        users.append(user)
    return SoakMarket(market=market, users=users)


def access_token(user: User) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


@dataclass
class Tally:
    """What the traders saw, shared by their threads."""

    accepted: dict[int, str] = field(default_factory=dict)  # order id -> kind placed
    statuses: Counter[int] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    unclean_5xx: list[str] = field(default_factory=list)
    transport_errors: int = 0
    requests: int = 0
    place_latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TraderBot:
    """One simulated trader: random orders of every kind, cancels and reads, paced."""

    def __init__(self, *, index: int, user: User, base_url: str, symbol: str, seed: int, tally: Tally) -> None:
        self.index = index
        self.user = user
        self.symbol = symbol
        self.rng = random.Random(seed * 1_000_003 + index)
        self.tally = tally
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.http.headers["Authorization"] = f"Bearer {access_token(user)}"
        self.mine: list[int] = []
        self.sent = 0

    def run(self, *, until: float, interval: float, budget: Callable[[], bool], stop: threading.Event) -> None:
        next_at = time.monotonic() + self.rng.uniform(0, interval)
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= until:
                    return
                if now < next_at:
                    stop.wait(min(next_at - now, until - now))
                    continue
                next_at += interval * self.rng.uniform(0.5, 1.5)
                if not budget():
                    return
                self.step()
        finally:
            self.http.close()

    # -- one action ---------------------------------------------------------------
    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.22 and self.mine:
            self.cancel_one()
        elif roll < 0.24:
            self.request("DELETE", f"/api/v1/orders?market={self.symbol}")
        elif roll < 0.30 and self.mine:
            self.request("GET", f"/api/v1/orders/{self.rng.choice(self.mine)}")
        elif roll < 0.32:
            self.request("GET", f"/api/v1/markets/{self.symbol}/depth?limit=20")
        else:
            self.place()

    def cancel_one(self) -> None:
        order_id = self.mine.pop(self.rng.randrange(len(self.mine)))
        self.request("DELETE", f"/api/v1/orders/{order_id}")

    def place(self) -> None:
        rng = self.rng
        side = rng.choice(["buy", "sell"])
        # Prices straddle the mid so about half of the orders cross and trade.
        price = PRICE + TICK * rng.randint(-60, 60)
        quantity = LOT * rng.randint(10, 1000)
        body: dict[str, object] = {
            "market": self.symbol,
            "side": side,
            "self_trade_prevention": rng.choice(["cancel_taker", "cancel_maker", "cancel_both"]),
        }
        kind = rng.choices(
            ["limit", "post_only", "ioc", "fok", "market"],
            weights=[45, 12, 15, 10, 18],
        )[0]
        if kind == "market":
            body["type"] = "market"
            if side == "sell":
                body["quantity"] = str(quantity)
            elif rng.random() < 0.2:
                # By quantity: the whole available quote is the budget until it closes.
                body["quantity"] = str(quantity)
                kind = "market_by_quantity"
            else:
                body["quote_quantity"] = str((PRICE * quantity).quantize(TICK))
        else:
            body.update(type="limit", price=str(price), quantity=str(quantity))
            if kind == "post_only":
                body["post_only"] = True
            elif kind in ("ioc", "fok"):
                body["time_in_force"] = kind.upper()
        self.sent += 1
        body["client_order_id"] = f"soak-{self.index}-{self.sent}"
        started = time.monotonic()
        resp = self.request("POST", "/api/v1/orders", json=body)
        for _ in range(RETRIES):
            if resp is not None:
                break
            # The answer was lost: ask again with the same client_order_id (idempotent),
            # which answers 200 with the order if the first attempt did place it.
            time.sleep(0.5)
            resp = self.request("POST", "/api/v1/orders", json=body)
        if resp is not None and resp.status_code in (200, 201):
            order_id = resp.json()["id"]
            with self.tally.lock:
                self.tally.accepted[order_id] = kind
                self.tally.place_latencies.append(time.monotonic() - started)
            if kind in ("limit", "post_only"):
                self.mine.append(order_id)
                if len(self.mine) > 200:
                    self.mine.pop(0)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response | None:
        tally = self.tally
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            with tally.lock:
                tally.requests += 1
                tally.transport_errors += 1
            self.note(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        if resp.status_code == 401:
            self.http.headers["Authorization"] = f"Bearer {access_token(self.user)}"
        code = _error_code(resp)
        with tally.lock:
            tally.requests += 1
            tally.statuses[resp.status_code] += 1
            if code:
                tally.error_codes[code] += 1
            if resp.status_code >= 500 and not code:
                tally.unclean_5xx.append(f"{method} {path} -> {resp.status_code} {resp.text[:200]!r}")
        return resp

    def note(self, message: str) -> None:
        sys.stderr.write(f"soak trader {self.index}: {message}\n")


def _error_code(resp: httpx.Response) -> str:
    """The API error code of an error answer, or '' when the body is not in the API's error format."""
    if resp.status_code < 400:
        return ""
    try:
        error = resp.json()["error"]
        return error["code"] if isinstance(error["code"], str) and "message" in error else ""
    except (ValueError, KeyError, TypeError):
        return ""


# -- chaos -------------------------------------------------------------------------


class Chaos:
    """Kill the chosen processes with SIGKILL at random moments, in turn, and start them again."""

    def __init__(
        self,
        *,
        procs: Harness,
        redis: PrivateRedis | None,
        faults: list[str],
        every: float,
        rng: random.Random,
        log: Log,
    ) -> None:
        self.procs = procs
        self.redis = redis
        self.faults = faults
        self.every = every
        self.rng = rng
        self.log = log
        self.redis_outages: list[float] = []

    def run(self, *, until: float, stop: threading.Event) -> None:
        turn = self.rng.randrange(len(self.faults)) if self.faults else 0
        next_kill = time.monotonic() + self._gap() if self.every > 0 and self.faults else float("inf")
        while not stop.is_set() and time.monotonic() < until:
            self.procs.reap_unexpected(self.log)
            if time.monotonic() >= next_kill:
                target = self.faults[turn % len(self.faults)]
                turn += 1
                self.strike(target)
                next_kill = time.monotonic() + self._gap()
            stop.wait(0.1)

    def _gap(self) -> float:
        return self.every * self.rng.uniform(0.5, 1.5)

    def strike(self, target: str) -> None:
        down = self.rng.uniform(0.2, 2.0)
        if target == "redis":
            assert self.redis is not None
            self.log(f"SIGKILL redis-server (down {down:.1f}s)")
            started = time.monotonic()
            self.redis.kill()
            time.sleep(down)
            self.redis.start()
            self.redis.restarts += 1
            self.redis_outages.append(time.monotonic() - started)
            return
        self.log(f"SIGKILL {target} (pid {self.procs.pid(target)}, down {down:.1f}s)")
        self.procs.kill(target)
        time.sleep(down)
        self.procs.restart(target)


# -- checks ------------------------------------------------------------------------


def wait_caught_up(market_id: int, *, timeout: float) -> bool:
    """Wait until the matcher took every accepted command and settlement reached its sequence."""
    deadline = time.monotonic() + timeout
    while True:
        pending = (
            Order.objects.filter(market_id=market_id, status=Order.Status.NEW).exists()
            or Order.objects.filter(
                market_id=market_id, status__in=Order.RESTING_STATUSES, cancel_requested_at__isnull=False
            ).exists()
        )
        last = Market.objects.values_list("last_sequence", flat=True).get(pk=market_id)
        settled = (
            SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
        )
        if not pending and settled == last:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


@dataclass
class Findings:
    lost_orders: list[str] = field(default_factory=list)
    double_settlements: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


FINAL_WITH_REASON = {Order.Status.CANCELED, Order.Status.EXPIRED}
NEVER_RESTS = {"ioc", "fok", "market", "market_by_quantity"}


def check_orders(market_id: int, accepted: dict[int, str]) -> Findings:
    """Every accepted order is open, filled, canceled, expired or rejected with a reason."""
    found = Findings()
    rows = {
        o["id"]: o
        for o in Order.objects.filter(market_id=market_id).values(
            "id", "status", "reject_reason", "cancel_reason", "post_only", "time_in_force", "type"
        )
    }
    for order_id, kind in sorted(accepted.items()):
        row = rows.get(order_id)
        if row is None:
            found.lost_orders.append(f"order {order_id} ({kind}) was accepted but is not in the database")
            continue
        status = row["status"]
        if status == Order.Status.NEW:
            found.lost_orders.append(f"order {order_id} ({kind}) is stuck in 'new'")
        elif status == Order.Status.REJECTED and not row["reject_reason"]:
            found.lost_orders.append(f"order {order_id} ({kind}) was rejected without a reason")
        elif status in FINAL_WITH_REASON and not row["cancel_reason"]:
            found.lost_orders.append(f"order {order_id} ({kind}) is {status} without a reason")
        elif status in Order.RESTING_STATUSES and kind in NEVER_RESTS:
            found.other.append(f"order {order_id} ({kind}) rests on the book as {status}")
    return found


def check_settlement(market_id: int, order_ids: list[int], found: Findings) -> int:
    """Exactly one set of ledger entries per trade, one lock and at most one release per order."""
    market = Market.objects.get(pk=market_id)
    cursor = SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
    if cursor != market.last_sequence:
        found.other.append(f"settled_sequence {cursor} != last_sequence {market.last_sequence}")
    trades = list(Trade.objects.filter(market_id=market_id).values_list("id", "maker_fee", "taker_fee"))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    refs = [f"trade:{t[0]}" for t in trades] + [f"order:{o}" for o in order_ids]
    for start in range(0, len(refs), 5000):
        chunk = refs[start : start + 5000]
        for reference, kind in LedgerEntry.objects.filter(reference__in=chunk).values_list("reference", "kind"):
            counts[reference][kind] += 1
    K = LedgerEntry.Kind
    for trade_id, maker_fee, taker_fee in trades:
        c = counts.get(f"trade:{trade_id}", Counter())
        fees = (maker_fee != 0) + (taker_fee != 0)
        expected = {K.TRADE: 4, K.TRADE_FEE: fees, K.FEE_INCOME: fees}
        got = {kind: c[kind] for kind in expected}
        if got == expected:
            continue
        if any(got[kind] > n for kind, n in expected.items()):
            found.double_settlements.append(f"trade {trade_id}: ledger entries {dict(c)}, expected {expected}")
        else:
            found.other.append(f"trade {trade_id} is not (fully) settled: ledger entries {dict(c)}")
    for order_id in order_ids:
        c = counts.get(f"order:{order_id}", Counter())
        if c[K.ORDER_LOCK] != 1:
            found.other.append(f"order {order_id}: {c[K.ORDER_LOCK]} order_lock entries")
        if c[K.ORDER_RELEASE] > 1:
            found.double_settlements.append(f"order {order_id}: released {c[K.ORDER_RELEASE]} times")
    return len(trades)


def run_audit(env: dict[str, str]) -> tuple[int, int, str]:
    """Run ``manage.py audit_ledger`` like an operator would; return (exit code, breaches, output)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_ledger", "--wait", "30"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    match = re.search(r"(\d+) breach\(es\) found", output)
    breaches = int(match.group(1)) if match else (0 if done.returncode == 0 else 1)
    return done.returncode, breaches, output


# -- the run -----------------------------------------------------------------------


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


def soak_run(config: SoakConfig, *, log: Log) -> SoakReport:
    """Run one soak and check the result; never leaves a process behind."""
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

    tag = secrets.token_hex(3).upper()
    log_dir = config.log_dir or ROOT / "var" / "soak" / tag
    max_requests = config.max_requests or int(config.rate * config.seconds) + config.traders
    rng = random.Random(config.seed)

    log(
        f"soak {tag}: {config.traders} traders, {config.seconds:g}s at {config.rate:g} req/s, "
        f"kill every ~{config.kill_every:g}s ({', '.join(config.faults) or 'no faults'}); logs in {log_dir}"
    )
    setup = soak_market_create(traders=config.traders, tag=tag)
    symbol = setup.market.symbol
    redis = PrivateRedis(log_dir) if private_redis else None
    procs: Harness | None = None
    problems: list[str] = []
    tally = Tally()
    try:
        if redis is not None:
            redis.start()
        env = process_env(redis_url=redis.url if redis else settings.REDIS_URL)
        procs = soak_harness(env=env, market=symbol, log_dir=log_dir)
        for name in ("web", "matcher", "worker", "beat"):
            procs.start(name)
        procs.wait_http("web")
        wait_matching(procs, symbol)
        web_pid = procs.pid("web")
        log(f"stack up at {procs.url()}, market {symbol}")

        bots = [
            TraderBot(index=i, user=u, base_url=procs.url(), symbol=symbol, seed=config.seed, tally=tally)
            for i, u in enumerate(setup.users)
        ]
        stop = threading.Event()
        interval = config.traders / config.rate
        budget_lock = threading.Lock()
        budget_left = [max_requests]

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
        chaos = Chaos(procs=procs, redis=redis, faults=list(config.faults), every=config.kill_every, rng=rng, log=log)
        chaos_thread = threading.Thread(target=chaos.run, kwargs={"until": until, "stop": stop}, daemon=True)
        for t in threads:
            t.start()
        chaos_thread.start()
        while any(t.is_alive() for t in threads):
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
        # Everything up again for the catch-up (a kill may have landed at the very end).
        procs.reap_unexpected(log)
        for name in ("web", "matcher", "worker", "beat"):
            if name not in procs.procs:
                procs.restart(name)
        procs.wait_http("web")
        if redis is not None and not redis.running:
            redis.start()

        log("trading stopped; waiting for matching and settlement to catch up")
        catch_up_started = time.monotonic()
        close_old_connections()
        caught_up = wait_caught_up(setup.market.pk, timeout=config.settle_timeout)
        catch_up_seconds = time.monotonic() - catch_up_started
        if not caught_up:
            problems.append(f"matching/settlement did not catch up within {config.settle_timeout:g}s")
        web_restarted = procs.pid("web") != web_pid
        procs.stop_all()

        found = check_orders(setup.market.pk, tally.accepted)
        # Placed while the answer was lost and never asked again: not accepted, not counted.
        unacknowledged = Order.objects.filter(market=setup.market).exclude(pk__in=list(tally.accepted)).count()
        trades = check_settlement(setup.market.pk, list(tally.accepted), found)
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
        if web_restarted and "web" not in config.faults:
            problems.append("the web process had to be restarted")

        statuses = tally.statuses
        latencies = sorted(tally.place_latencies)
        figures = {
            "orders_per_sec": round(len(tally.accepted) / trading_seconds, 1),
            "orders_accepted": len(tally.accepted),
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
            "problems": len(problems),
            "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "unclean_server_errors": len(tally.unclean_5xx),
            "transport_errors": tally.transport_errors,
            "unacknowledged_orders": unacknowledged,
            "status_counts": {str(s): statuses[s] for s in sorted(statuses)},
            "error_codes": dict(sorted(tally.error_codes.items())),
            "place_latency_ms_p50": _ms(latencies, 0.50),
            "place_latency_ms_p99": _ms(latencies, 0.99),
            "catch_up_seconds": round(catch_up_seconds, 1),
            "seconds": round(trading_seconds, 1),
            "traders": config.traders,
            "market": symbol,
        }
        for problem in problems:
            log(f"PROBLEM: {problem}")
        return SoakReport(figures=figures, problems=problems)
    finally:
        if procs is not None:
            procs.stop_all()
        if redis is not None:
            redis.kill()


def _ms(sorted_values: list[float], quantile: float) -> float | None:
    if not sorted_values:
        return None
    return round(1000 * sorted_values[min(len(sorted_values) - 1, int(quantile * len(sorted_values)))], 1)
