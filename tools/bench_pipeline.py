"""``bench_pipeline``: how fast the matcher and settlement drain a backlog of crossing orders.

Per market: a fresh market and funded traders (custody deposits), then a backlog of
limit orders that cross (buyers and sellers are different traders, prices around one
mid), placed through ``orders_place_bulk`` so every lock has its ledger entry. Then the
real processes start, as the Procfile runs them: one ``run_matcher --market`` per market
and one Celery worker (settlement is triggered by the matcher after each batch). The
database is polled until every market is settled; the audit runs at the end.

Figures: orders/s matched (sequences per second from the matcher's first batch to its
last), orders/s and trades/s settled and the end-to-end seconds (until
``settled_sequence == last_sequence`` on every market), plus CPU ms per order of each
process (the box is shared: CPU per unit of work is the steadier figure).
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection

from markets.models import Market, Trade
from tools.harness import ROOT, Harness, process_env
from tools.soak import soak_market_create
from trading.services import orders_place_bulk
from wallets.models import SettlementCursor

Log = Callable[[str], None]

MID = Decimal("100")
TICK = Decimal("0.01")
SEED_CHUNK = 5000
POLL_SECONDS = 0.1


@dataclass
class BenchMarket:
    market: Market
    orders: int
    matched_at: float | None = None
    settled_at: float | None = None


def backlog(*, user_ids: list[int], count: int, seed: int) -> list[tuple[int, str, Decimal, Decimal]]:
    """Crossing limit orders: buys by the even traders, sells by the odd ones, alternating.

    Prices spread five ticks either side of the mid, so most orders trade at once, some
    against several makers, and some rest for a while (the book stays shallow).
    """
    rng = random.Random(seed)
    buyers, sellers = user_ids[0::2], user_ids[1::2]
    out = []
    for i in range(count):
        side = "buy" if i % 2 == 0 else "sell"
        traders = buyers if side == "buy" else sellers
        price = MID + TICK * rng.randint(-5, 5)
        quantity = Decimal(rng.randint(20, 60)) / 1000
        out.append((traders[(i // 2) % len(traders)], side, price, quantity))
    return out


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU of the PostgreSQL backends serving this database (not ours), sampled at each poll.

    A backend that ends between two polls loses its last slice, so this is a lower
    bound; the matcher and the worker keep their connections, so it is a close one.
    """

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sample(baseline=True)

    def sample(self, *, baseline: bool = False) -> None:
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = [row[0] for row in cursor.fetchall()]
        for pid in pids:
            cpu = _cpu_seconds(pid)
            if cpu is None:
                continue
            self.first.setdefault(pid, cpu if baseline else 0.0)
            self.last[pid] = cpu

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _progress() -> dict[int, tuple[int, int]]:
    """market_id -> (last_sequence, settled_sequence)."""
    settled = dict(SettlementCursor.objects.values_list("market_id", "settled_sequence"))
    return {pk: (last, settled.get(pk, 0)) for pk, last in Market.objects.values_list("pk", "last_sequence")}


def _seed(*, orders: int, markets: int, traders: int, log: Log) -> list[BenchMarket]:
    """Fresh markets with funded traders and a backlog of ``orders`` placed orders each."""
    tag = secrets.token_hex(3).upper()
    bench: list[BenchMarket] = []
    for m in range(markets):
        setup = soak_market_create(traders=traders, tag=f"{tag}{m}", kind="bench")
        user_ids = [u.pk for u in setup.users]
        rows = backlog(user_ids=user_ids, count=orders, seed=m)
        for start in range(0, len(rows), SEED_CHUNK):
            orders_place_bulk(market=setup.market, orders=rows[start : start + SEED_CHUNK])
            log(f"{setup.market.symbol}: seeded {min(start + SEED_CHUNK, len(rows))}/{len(rows)} orders")
        bench.append(BenchMarket(setup.market, orders))
    return bench


def _drain(bench: list[BenchMarket], server: ServerCpu, *, started: float, log: Log) -> None:
    """Sample progress until every market is matched and settled; note when each got there."""
    total = sum(b.orders for b in bench)
    next_report = started + 2
    while any(b.settled_at is None for b in bench):
        time.sleep(POLL_SECONDS)  # a sampling tick: the loop times each market, not a wait
        now = time.perf_counter()
        state = _progress()
        server.sample()
        for b in bench:
            last, settled = state[b.market.pk]
            if b.matched_at is None and last >= b.orders:
                b.matched_at = now
            if b.settled_at is None and last >= b.orders and settled >= last:
                b.settled_at = now
        if now >= next_report:
            next_report = now + 2
            log(
                f"{now - started:5.1f}s "
                + "  ".join(
                    f"{b.market.symbol}: matched {state[b.market.pk][0]} settled {state[b.market.pk][1]}" for b in bench
                )
            )
        if now - started > 600 + total / 100:
            raise RuntimeError("the pipeline did not drain in time; see var/bench_pipeline/*.log")


def bench_pipeline(
    *, orders: int, markets: int = 1, traders: int = 100, concurrency: int | None = None, log: Log
) -> dict:
    """Seed, drain with real processes, audit; returns the figures (see the module docstring)."""
    postgres = connection.vendor == "postgresql"
    if not postgres:
        log("warning: not PostgreSQL; the targets are for PostgreSQL, figures here are only a smoke test")
    concurrency = concurrency or max(1, min(markets, os.cpu_count() or 1))
    seed_started = time.perf_counter()
    bench = _seed(orders=orders, markets=markets, traders=traders, log=log)
    seed_seconds = time.perf_counter() - seed_started
    connection.close()  # the children take over; no idle transaction of ours in their way

    env = process_env(MATCHER_BATCH_SIZE=str(settings.MATCHER_BATCH_SIZE))
    commands = {f"matcher-{i}": "python manage.py run_matcher" for i in range(markets)}
    with Harness(env=env, log_dir=ROOT / "var" / "bench_pipeline", commands=commands) as harness:
        worker = harness.start("worker", "--concurrency", str(concurrency))
        matchers = [harness.start(f"matcher-{i}", "--market", b.market.symbol) for i, b in enumerate(bench)]
        harness.wait_log("worker", "ready", timeout=120)
        for i, b in enumerate(bench):
            harness.wait_log(f"matcher-{i}", f"matching {b.market.symbol}", timeout=120)
        server = ServerCpu()
        cpu_before = (sum(p.cpu_seconds() for p in matchers), worker.cpu_seconds())
        started = time.perf_counter()
        first = _progress()
        log(f"processes up; draining {orders * markets} orders on {markets} market(s)")
        _drain(bench, server, started=started, log=log)
        # Start-up (imports, the book rebuild) excluded.
        matcher_cpu = sum(p.cpu_seconds() for p in matchers) - cpu_before[0]
        worker_cpu = worker.cpu_seconds() - cpu_before[1]
        audit = harness.manage("audit_ledger", timeout=600)
    # Orders matched before we started the clock (the first batch may beat the log poll).
    already = sum(first[b.market.pk][0] for b in bench)
    already_settled = sum(first[b.market.pk][1] for b in bench)
    total = orders * markets
    matched_seconds = max(b.matched_at for b in bench) - started
    settled_seconds = max(b.settled_at for b in bench) - started
    trades = Trade.objects.filter(market_id__in=[b.market.pk for b in bench]).count()
    return {
        "benchmark": "pipeline",
        "database": connection.vendor,
        "target_database": postgres,
        "markets": markets,
        "orders": total,
        "trades": trades,
        "batch_size": settings.MATCHER_BATCH_SIZE,
        "worker_concurrency": concurrency,
        "seed_seconds": round(seed_seconds, 2),
        "matched_orders_per_s": round((total - already) / matched_seconds, 1),
        "settled_orders_per_s": round((total - already_settled) / settled_seconds, 1),
        "settled_trades_per_s": round(trades / settled_seconds, 1),
        "end_to_end_seconds": round(settled_seconds, 2),
        "matcher_cpu_ms_per_order": round(matcher_cpu * 1000 / total, 3),
        "worker_cpu_ms_per_order": round(worker_cpu * 1000 / total, 3),
        "postgres_cpu_ms_per_order": round(server.seconds() * 1000 / total, 3) if postgres else None,
        "cpu_count": os.cpu_count(),
        "audit_ok": audit.returncode == 0,
    }
