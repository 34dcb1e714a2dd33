"""Benchmark the REST front door: requests a second each endpoint takes on the real stack.

``python manage.py bench_rest`` starts the Procfile's processes (web, ws, matcher,
worker, beat) through ``tools.harness`` on the configured PostgreSQL + Redis, creates
a bench market with funded traders, and drives the web process with ``wrk`` (a C load
generator, one to two threads, so the client is not what limits the figure), one
endpoint after the other. Authenticated and POST requests come from Lua scripts
written next to the logs at run time, with the traders' access tokens in rotation.

For each endpoint the JSON line holds requests a second, p50/p99 latency, non-2xx and
5xx counts and the web processes' CPU milliseconds per request (``/proc`` utime +
stime of the web server's main process and its workers, before and after), and each rate as a
ratio to ``GET /time`` in the same run: the ratio is what stays comparable between a
quiet box and a shared one.

Order placement sends no ``client_order_id`` (each request is a new order). Resting
orders are bids far below and asks far above the market, so they never trade; they
are the supply of the cancel phase that follows, each canceled once (a wrk thread
stops when its share is used up, and the rate is then taken over its own active
time). Crossing orders alternate buyers and sellers from different traders at prices
through the mid while the matcher and settlement run. After the run ``audit_ledger``
must pass.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.db import close_old_connections, connection

from markets.models import Order
from tools.harness import RAISED_THROTTLES, ROOT, Harness, process_env
from tools.soak import WORKER_ARGS, access_token, run_audit, soak_market_create, wait_caught_up

Log = Callable[[str], None]

ENDPOINTS = (
    "time",
    "depth",
    "trades",
    "ticker",
    "tickers",
    "markets",
    "balances",
    "orders",
    "place_resting",
    "cancel",
    "place_crossing",
)
WRK_INSTALL = "wrk is not installed: apt-get install wrk (Debian/Ubuntu), then run again"
SEED_LEVELS = 20


class BenchRefused(Exception):
    """The benchmark cannot run honestly in this configuration."""


@dataclass
class BenchConfig:
    seconds: float = 15
    connections: int = 16
    threads: int = 2
    traders: int = 40
    only: tuple[str, ...] = ENDPOINTS
    web_workers: int | None = None
    web_threads: int | None = None  # WEB_THREADS: Python threads per worker
    web_command: str | None = None
    log_dir: Path | None = None


# -- wrk --------------------------------------------------------------------------------

# One request item: method, path, bearer token ("" for none), JSON body (None for none).
Item = tuple[str, str, str, str | None]

LUA = """-- bench_rest: {name} (written by tools/bench_rest.py for one run)
local ffi = require("ffi")
ffi.cdef[[typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int, bench_timespec *);]]
local function now()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local ITEMS = {{
{items}
}}
local ONCE = {once}
local NTHREADS = {threads}
local threads = {{}}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local reqs, n, i = {{}}, 0, 0
counted, non2xx, e5xx, extra, started, finished, last = 0, 0, 0, 0, 0, 0, 0

function init(args)
  for k, item in ipairs(ITEMS) do
    if not ONCE or (k - 1) % NTHREADS == id then
      local headers = {{}}
      if item[3] ~= "" then headers["Authorization"] = "Bearer " .. item[3] end
      local body = nil
      if item[4] ~= "" then
        body = item[4]
        headers["Content-Type"] = "application/json"
      end
      reqs[#reqs + 1] = wrk.format(item[1], item[2], headers, body)
    end
  end
  n = #reqs
end

function request()
  if started == 0 then started = now() end
  i = i + 1
  if i > n then
    if ONCE then
      -- Every item was sent once: stop this thread; what it still sends is not counted.
      if finished == 0 then finished = now() end
      wrk.thread:stop()
      i = n
    else
      i = 1
    end
  end
  return reqs[i]
end

function response(status, headers, body)
  if finished ~= 0 then
    extra = extra + 1
    return
  end
  counted = counted + 1
  last = now()
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status >= 500 then e5xx = e5xx + 1 end
end

function done(summary, latency, requests)
  local c, non2, e5, ext, exhausted, rate = 0, 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("counted")
    non2 = non2 + t:get("non2xx")
    e5 = e5 + t:get("e5xx")
    ext = ext + t:get("extra")
    local stop = t:get("finished")
    if stop == 0 then stop = t:get("last") else exhausted = exhausted + 1 end
    local span = stop - t:get("started")
    if span > 0 then rate = rate + t:get("counted") / span end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, "counted": %.0f, ' ..
    '"non_2xx": %.0f, "5xx": %.0f, "extra": %.0f, "exhausted_threads": %.0f, "thread_rate": %.3f, ' ..
    '"socket_errors": %.0f}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), c,
    non2, e5, ext, exhausted, rate, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    # JSON string escapes for ASCII text (\\" and \\\\) are valid Lua escapes too.
    return json.dumps(value, ensure_ascii=True)


def lua_script(name: str, items: list[Item], *, once: bool, threads: int) -> str:
    """A wrk script cycling through ``items`` (or sending each once, split between threads)."""
    rows = ",\n".join(
        "{" + ", ".join(_lua_string(v) for v in (method, path, token, body or "")) + "}"
        for method, path, token, body in items
    )
    return LUA.format(name=name, items=rows, once="true" if once else "false", threads=threads)


def wrk_run(wrk: str, url: str, script: Path, *, seconds: float, connections: int, threads: int) -> dict[str, float]:
    """Run wrk once; the figures its script's ``done`` printed."""
    done = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[len("BENCH ") :])
    raise RuntimeError(f"wrk printed no figures (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


# -- the run ----------------------------------------------------------------------------


def _refuse_unless_ready(config: BenchConfig) -> str:
    if connection.vendor != "postgresql":
        raise BenchRefused(
            "bench_rest measures the production layout: set DATABASE_URL=postgres://... and REDIS_URL=redis://... "
            "(SQLite is the one-process trial, not what the web tier serves)"
        )
    if not settings.REDIS_URL:
        raise BenchRefused("bench_rest needs Redis (cache, throttles, wake-ups): set REDIS_URL=redis://...")
    unknown = set(config.only) - set(ENDPOINTS)
    if unknown:
        raise BenchRefused(f"unknown endpoint(s): {', '.join(sorted(unknown))}; choose from {', '.join(ENDPOINTS)}")
    if "cancel" in config.only and "place_resting" not in config.only:
        raise BenchRefused("'cancel' cancels the orders 'place_resting' placed: run both")
    if config.seconds <= 0 or config.connections < 1 or config.threads < 1 or config.traders < 2:
        raise BenchRefused("seconds, connections and threads must be positive, traders at least 2")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchRefused(WRK_INSTALL)
    return wrk


def _seed_book(http: httpx.Client, symbol: str, tokens: list[str]) -> None:
    """Levels on both sides and a few trades, so depth, trades and tickers have content."""
    # A buyer and a seller as in the crossing phase (even traders buy, odd ones sell).
    buyer, seller = tokens[-2], tokens[-1]

    def place(token: str, side: str, price: Decimal, quantity: str) -> None:
        body = {"market": symbol, "side": side, "type": "limit", "price": str(price), "quantity": quantity}
        resp = http.post("/api/v1/orders", json=body, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code != 201:
            raise RuntimeError(f"seeding the book: {resp.status_code} {resp.text[:300]}")

    for level in range(1, SEED_LEVELS + 1):
        place(seller, "sell", Decimal("100") + Decimal("0.01") * level, "0.05")
        place(buyer, "buy", Decimal("100") - Decimal("0.01") * level, "0.05")
    for _ in range(5):
        place(buyer, "buy", Decimal("100.01"), "0.001")


def _items(name: str, symbol: str, tokens: list[str], *, supply: list[tuple[int, str]] | None = None) -> list[Item]:
    market = f"/api/v1/markets/{symbol}"
    public = {
        "time": "/api/v1/time",
        "depth": f"{market}/depth?limit=50",
        "trades": f"{market}/trades?limit=100",
        "ticker": f"{market}/ticker",
        "tickers": "/api/v1/tickers",
        "markets": "/api/v1/markets",
    }
    if name in public:
        return [("GET", public[name], "", None)]
    if name == "balances":
        return [("GET", "/api/v1/balances", t, None) for t in tokens]
    if name == "orders":
        return [("GET", f"/api/v1/orders?market={symbol}", t, None) for t in tokens]
    if name == "cancel":
        return [("DELETE", f"/api/v1/orders/{order_id}", token, None) for order_id, token in supply or []]
    items: list[Item] = []
    # Buyers and sellers interleaved, so each connection sends both sides.
    for j in range(10):
        for k, token in enumerate(tokens):
            # Even traders buy, odd traders sell: crossing orders never meet their own.
            side = "buy" if k % 2 == 0 else "sell"
            if name == "place_resting":
                # Far from the market: they rest and never trade (the cancel phase's supply).
                far = Decimal("50") if side == "buy" else Decimal("150")
                price = far + Decimal("0.01") * j
            else:
                price = Decimal("101") if side == "buy" else Decimal("99")
            body = {"market": symbol, "side": side, "type": "limit", "price": str(price), "quantity": "0.001"}
            items.append(("POST", "/api/v1/orders", token, json.dumps(body, separators=(",", ":"))))
    return items


def _cancel_supply(market_id: int, tokens_by_user: dict[int, str]) -> list[tuple[int, str]]:
    rows = Order.objects.filter(
        market_id=market_id, status__in=Order.RESTING_STATUSES, cancel_requested_at__isnull=True
    ).values_list("id", "user_id", "price")
    # Only the resting phase's far-away orders, not the seeded levels.
    return [
        (order_id, tokens_by_user[user_id])
        for order_id, user_id, price in rows
        if (price < Decimal("60") or price > Decimal("140")) and user_id in tokens_by_user
    ]


def _web_description(config: BenchConfig, env: dict[str, str]) -> str:
    if config.web_command:
        return config.web_command
    from exchange_site.web import settings_from_env

    sizing = settings_from_env(env)
    return f"granian wsgi, {sizing['workers']} workers x {sizing['blocking_threads']} threads"


def _bench_env(config: BenchConfig) -> dict[str, str]:
    """The processes' environment: raised rate limits, the web server's sizing when given."""
    extra: dict[str, str] = dict(RAISED_THROTTLES)
    if config.web_workers:
        extra["WEB_WORKERS"] = str(config.web_workers)
    if config.web_threads:
        extra["WEB_THREADS"] = str(config.web_threads)
    return process_env(**extra)


def _start_stack(harness: Harness, symbol: str, log_dir: Path) -> None:
    """The Procfile's processes, up and answering, with our matcher holding the market."""
    harness.start("web")
    harness.start("ws")
    harness.start("matcher", "--market", symbol)
    harness.start("worker", *WORKER_ARGS)
    harness.start("beat", "-l", "warning", "-s", str(log_dir / "celerybeat-schedule"))
    harness.wait_http("web")
    harness.wait_http("ws")
    harness.wait_log("matcher", f"matching {symbol}", fail_on=["another matcher holds market"])


def bench_rest_run(config: BenchConfig, *, log: Log) -> dict:
    """Run the benchmark; returns the figures. Never leaves a process behind."""
    wrk = _refuse_unless_ready(config)
    tag = secrets.token_hex(3).upper()
    log_dir = config.log_dir or ROOT / "var" / "bench_rest" / tag
    log_dir.mkdir(parents=True, exist_ok=True)
    log(f"bench_rest {tag}: creating a market and {config.traders} funded traders; logs in {log_dir}")
    setup = soak_market_create(
        traders=config.traders + config.traders % 2, tag=tag, kind="bench", min_notional=Decimal("0.01")
    )
    symbol = setup.market.symbol
    tokens = [access_token(u) for u in setup.users]
    tokens_by_user = {u.pk: t for u, t in zip(setup.users, tokens, strict=True)}

    env = _bench_env(config)
    harness = Harness(env=env, log_dir=log_dir, commands={"web": config.web_command} if config.web_command else None)
    results: dict[str, dict] = {}
    try:
        _start_stack(harness, symbol, log_dir)
        url = harness.url("web")
        log(f"stack up: web {url} ({_web_description(config, env)}), market {symbol}")
        with httpx.Client(base_url=url, timeout=30) as http:
            _seed_book(http, symbol, tokens)
        close_old_connections()
        wait_caught_up(setup.market.pk, timeout=60)
        # Warm every worker (imports, caches, the first connection) before measuring.
        warm = log_dir / "warm.lua"
        warm.write_text(lua_script("warm", _items("balances", symbol, tokens), once=False, threads=config.threads))
        wrk_run(wrk, url, warm, seconds=2, connections=config.connections, threads=config.threads)

        for name in [e for e in ENDPOINTS if e in config.only]:
            supply = None
            if name == "cancel":
                close_old_connections()
                wait_caught_up(setup.market.pk, timeout=120)
                supply = _cancel_supply(setup.market.pk, tokens_by_user)
                results.setdefault("_meta", {})["cancel_supply"] = len(supply)
            items = _items(name, symbol, tokens, supply=supply)
            script = log_dir / f"{name}.lua"
            script.write_text(lua_script(name, items, once=name == "cancel", threads=config.threads))
            results[name] = _measure(harness, wrk, url, script, config)
            r = results[name]
            log(
                f"{name:15s} {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"non-2xx {r['non_2xx']}  5xx {r['5xx']}  web CPU {r['web_cpu_ms_per_req']} ms/req"
            )

        log("load stopped; waiting for matching and settlement to catch up")
        close_old_connections()
        caught_up = wait_caught_up(setup.market.pk, timeout=180)
    finally:
        harness.stop_all()
    audit_code, breaches, audit_output = run_audit(env)
    if audit_code != 0:
        log(f"audit_ledger exited {audit_code}:\n{audit_output}")
    meta = results.pop("_meta", {})
    base = results.get("time", {}).get("req_s")
    for r in results.values():
        r["ratio_to_time"] = round(r["req_s"] / base, 3) if base else None
    return {
        "endpoints": results,
        "audit_ok": audit_code == 0,
        "breaches": breaches,
        "caught_up": caught_up,
        "cancel_supply": meta.get("cancel_supply"),
        "web": _web_description(config, env),
        "seconds": config.seconds,
        "connections": config.connections,
        "wrk_threads": config.threads,
        "traders": len(tokens),
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "market": symbol,
    }


def _measure(harness: Harness, wrk: str, url: str, script: Path, config: BenchConfig) -> dict:
    web = harness.get("web")
    others = [p for name, p in harness.procs.items() if name != "web"]
    web_before = web.cpu_seconds()
    others_before = sum(p.cpu_seconds() for p in others)
    figures = wrk_run(wrk, url, script, seconds=config.seconds, connections=config.connections, threads=config.threads)
    web_cpu = web.cpu_seconds() - web_before
    others_cpu = sum(p.cpu_seconds() for p in others) - others_before
    counted = max(1, int(figures["counted"]))
    exhausted = figures["exhausted_threads"] > 0
    rate = figures["thread_rate"] if exhausted else figures["requests"] / (figures["duration_us"] / 1e6)
    return {
        "req_s": round(rate, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "requests": int(figures["counted"]),
        "non_2xx": int(figures["non_2xx"]),
        "5xx": int(figures["5xx"]),
        "socket_errors": int(figures["socket_errors"]),
        "web_cpu_ms_per_req": round(1000 * web_cpu / counted, 2),
        # The matcher, settlement, the ws process and beat, for the same requests.
        "other_cpu_ms_per_req": round(1000 * others_cpu / counted, 2),
        **({"supply_used_up": True} if exhausted else {}),
    }
