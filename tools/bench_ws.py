"""Benchmark the WebSocket fan-out: trade latency from commit to subscribers under REST order flow.

Unless ``--url`` names a running stack, it starts the real one on the configured
``DATABASE_URL`` / ``REDIS_URL`` from the Procfile through ``tools.harness``: ``web``
(granian, ``--web`` workers), ``ws`` (``manage.py run_ws``, ``--ws-processes`` daphne
processes on one port), ``matcher`` for the bench market and a Celery ``worker``. It creates a fresh
market and funded traders (custody deposit service), opens ``--subscribers`` WebSocket
clients on ``trades:<market>`` and ``depth:<market>`` in a few reader processes
(``tools.wsreader``: hundreds of sockets per process, frames split by hand, so the
clients are not the bottleneck), places orders over REST at ``--rate`` a second for
``--seconds`` and prints ONE JSON line: latency from each trade's commit (its
``event_time``) to its arrival at each subscriber, deliveries per subscriber class,
slow-consumer disconnects, and the ws processes' CPU per 1,000 delivered messages.
Progress goes to stderr. Loopback only.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
import secrets
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from tools.directfeeder import direct_feed
from tools.harness import RAISED_THROTTLES, ROOT, Harness, process_env
from tools.restfeeder import MID_TICKS, SPREAD_TICKS, feeder_main, price
from tools.wsreader import merge_reports, raise_fd_limit, reader_main

SOCKETS_PER_READER = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_DIR = ROOT / "var" / "bench-logs"
WORKER_ARGS = ("-l", "warning", "-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat")


def add_arguments(parser: Any) -> None:
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500, help="orders (and cancels) a second, over REST")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--traders", type=int, default=20, help="funded traders the orders are spread over")
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="keep-alive HTTP connections of the open-loop feeder process (requests in flight at most)",
    )
    parser.add_argument("--url", default="", help="use a running stack at this http:// URL instead of starting one")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="nice level of the order-placing clients (they stand in for the traders' own machines)",
    )
    parser.add_argument("--rest-nice", type=int, default=0, help="nice level of the REST processes")
    parser.add_argument("--web", type=int, default=2, help="worker processes of the REST (web) process (WEB_WORKERS)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per web worker (WEB_THREADS)")
    parser.add_argument("--ws-url", default="", help="with --url: the ws process's http:// URL, if not the same")
    parser.add_argument("--ws-processes", type=int, default=int(os.environ.get("WS_PROCESSES", "2")))
    parser.add_argument(
        "--channels", default="trades,depth", help="what the subscribers subscribe, of the bench market"
    )
    parser.add_argument("--sample", type=int, default=10, help="subscribers that parse every frame as JSON")
    parser.add_argument("--batch", type=int, default=0, help="subscribers that ask for batched trades")
    parser.add_argument("--slow", type=int, default=0, help="subscribers that stop reading (to be disconnected)")
    parser.add_argument("--readers", type=int, default=0, help="reader processes (default: 1 per 1,000 sockets)")
    parser.add_argument(
        "--feed",
        choices=("rest", "direct"),
        default="rest",
        help="rest: orders over HTTP (tools.restfeeder); direct: written straight into the database by this"
        " process (tools.directfeeder), for a rate the REST tier cannot take on this machine",
    )


def run(opt: dict[str, Any], log: Any) -> dict[str, Any]:
    """Run the benchmark; return the JSON line's object."""
    if opt["subscribers"] < 1 or opt["rate"] <= 0 or opt["seconds"] <= 0 or opt["traders"] < 1:
        raise CommandError("subscribers, rate, seconds and traders must be positive")
    started = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise_fd_limit()  # inherited by the stack's processes
    market, tokens, user_ids = _setup(opt["traders"])
    harness: Harness | None = None
    try:
        if opt["url"]:
            rest_urls = [opt["url"].rstrip("/")]
            ws_urls = [(opt["ws_url"] or opt["url"]).rstrip("/")]
        else:
            ws_urls, rest_urls, harness = _start_stack(market.symbol, opt, log)
        log(f"stack up; market {market.symbol}; {opt['traders']} funded traders")
        _seed_book(rest_urls[0], market.symbol, tokens)
        readers = _open_readers(ws_urls, market.symbol, opt, log)
        ws_pids = _ws_pids(harness)
        cpu_before = _cpu_ms(ws_pids)
        if opt.get("feed") == "direct":
            log(f"writing orders at {opt['rate']:g}/s for {opt['seconds']:g} s straight into the database")
            flow = direct_feed(market, user_ids, opt["rate"], opt["seconds"], log)
        else:
            flow = _order_flow(rest_urls, market.symbol, tokens, opt, log)
        _wait_matched(market)
        time.sleep(1.0)  # let the last trades reach every subscriber
        cpu_after = _cpu_ms(ws_pids)
        cpu_ms = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        classes = _close_readers(readers)
        publisher = _publisher_stats(harness)
        hub = _hub_stats(harness)
    finally:
        if harness is not None:
            harness.stop_all()
    result = _report(market, opt, flow, classes, publisher, ws_urls, rest_urls, cpu_ms)
    if hub:
        result["ws_process_ms"] = hub
    log(f"done in {time.monotonic() - started:.0f} s")
    return result


# -- setup --------------------------------------------------------------------------
def _setup(traders: int):
    from tools.soak import access_token, soak_market_create

    setup = soak_market_create(
        traders=traders,
        tag=secrets.token_hex(3).upper(),
        kind="bench",
        base_funding=Decimal("1000000"),
        quote_funding=Decimal("1000000000"),
        min_notional=Decimal("0.01"),
    )
    return setup.market, [access_token(user) for user in setup.users], [user.pk for user in setup.users]


def _start_stack(symbol: str, opt: dict[str, Any], log: Any) -> tuple[list[str], list[str], Harness]:
    """The Procfile's web (granian), ws (run_ws), matcher and worker, through the harness."""
    env = process_env(
        **RAISED_THROTTLES,
        WS_PUBLISH_STATS_SECONDS="5",
        WS_HUB_STATS_SECONDS="5",
        WEB_WORKERS=str(opt["web"]),
        WEB_THREADS=str(opt["web_threads"]),
    )
    for name in ("web", "ws", "matcher", "worker"):
        (LOG_DIR / f"{name}.log").unlink(missing_ok=True)  # the stats lines of this run only
    harness = Harness(env=env, log_dir=LOG_DIR)
    try:
        harness.start("web")
        harness.start("ws", "--processes", str(opt["ws_processes"]))
        harness.start("matcher", "--market", symbol)
        harness.start("worker", *WORKER_ARGS)
        harness.wait_http("web")
        harness.wait_http("ws")
    except BaseException:
        harness.stop_all()
        raise
    if opt["rest_nice"]:
        for pid in harness.get("web").group_pids():
            os.setpriority(os.PRIO_PROCESS, pid, opt["rest_nice"])
    log(f"started {', '.join(harness.procs)}; logs in {LOG_DIR}")
    return [harness.url("ws")], [harness.url("web")], harness


def _seed_book(url: str, symbol: str, tokens: list[str]) -> None:
    """Resting orders on both sides, so market orders find liquidity from the start."""
    import httpx

    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens[0]}"}) as http:
        for i in range(1, SPREAD_TICKS + 1):
            for side, ticks in (("buy", MID_TICKS - i), ("sell", MID_TICKS + i)):
                resp = http.post(
                    "/api/v1/orders",
                    json={"market": symbol, "side": side, "type": "limit", "price": price(ticks), "quantity": "1"},
                )
                if resp.status_code != 201:
                    raise CommandError(f"seeding the book failed: {resp.status_code} {resp.text}")


# -- subscribers ------------------------------------------------------------------
def _open_readers(urls: list[str], symbol: str, opt: dict[str, Any], log: Any) -> list[tuple]:
    channels = [f"{kind.strip()}:{symbol}" for kind in opt["channels"].split(",") if kind.strip()]
    plain = json.dumps({"op": "subscribe", "channels": channels})
    batched = json.dumps({"op": "subscribe", "channels": channels, "batch": True})
    count = opt["subscribers"]
    special = {"sample": min(opt["sample"], count)}
    special["batch"] = min(opt["batch"], count - special["sample"])
    special["slow"] = min(opt["slow"], count - special["sample"] - special["batch"])
    kinds = ["sample"] * special["sample"] + ["batch"] * special["batch"] + ["slow"] * special["slow"]
    kinds += ["bulk"] * (count - len(kinds))
    plan = [(kind, batched if kind == "batch" else plain) for kind in kinds]
    processes = opt["readers"] or max(1, math.ceil(count / SOCKETS_PER_READER))
    ws_urls = [u.replace("http://", "ws://") + "/ws/v1/" for u in urls]
    ctx = multiprocessing.get_context("spawn")
    readers = []
    for i in range(processes):
        ready, stop = ctx.Event(), ctx.Event()
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=reader_main, args=(ws_urls, plan[i::processes], ready, stop, child), daemon=True)
        proc.start()
        readers.append((proc, ready, stop, parent))
    # Thousands of handshakes (each a subscribe query) take minutes on a loaded box.
    wait = max(120.0, count / 10)
    deadline = time.monotonic() + wait
    for _, ready, _, parent in readers:
        while not ready.wait(0.5):
            if parent.poll():
                raise CommandError(f"a reader failed: {parent.recv()}")
            if time.monotonic() > deadline:
                raise CommandError(f"subscribers did not connect in {wait:.0f} s")
    log(f"{count} subscribers on {', '.join(channels)} in {processes} reader process(es): {special}")
    return readers


def _close_readers(readers: list[tuple]) -> dict[str, dict[str, Any]]:
    for _, _, stop, _ in readers:
        stop.set()
    reports = []
    for proc, _, _, parent in readers:
        if not parent.poll(60):
            raise CommandError("a reader process did not report")
        report = parent.recv()
        if "error" in report:
            raise CommandError(f"a reader failed: {report['error']}")
        reports.append(report)
        proc.join(10)
    return merge_reports(reports)


# -- order flow -------------------------------------------------------------------
def _order_flow(urls: list[str], symbol: str, tokens: list[str], opt: dict[str, Any], log: Any) -> dict:
    """Run the open-loop feeder (``tools.restfeeder``) in a process of its own; return its report."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    feed_opt = {"rate": opt["rate"], "seconds": opt["seconds"], "connections": max(1, opt["connections"])}
    proc = ctx.Process(target=_feeder_process, args=(urls, symbol, tokens, feed_opt, opt["client_nice"], child))
    log(f"placing orders at {opt['rate']:g}/s for {opt['seconds']:g} s over {feed_opt['connections']} connections")
    proc.start()
    started = time.monotonic()
    while not parent.poll(1.0):
        if not proc.is_alive():
            raise CommandError("the feeder process died")
        if time.monotonic() - started < opt["seconds"]:
            log(f"{time.monotonic() - started:.0f} s")
    report = parent.recv()
    proc.join(10)
    if "error" in report:
        raise CommandError(f"the feeder failed: {report['error']}")
    return report


def _feeder_process(urls, symbol, tokens, feed_opt, nice, out) -> None:
    if nice:
        os.nice(nice)  # the order-placing clients stand in for the traders' own machines
    feeder_main(urls, symbol, tokens, feed_opt, out)


def _wait_matched(market, timeout: float = 120) -> None:
    from markets.models import Order

    deadline = time.monotonic() + timeout
    while Order.objects.filter(market=market, status=Order.Status.NEW).exists():
        if time.monotonic() > deadline:
            raise CommandError("the matcher did not catch up in time")
        time.sleep(0.2)


# -- the ws processes' CPU ------------------------------------------------------
def _ws_pids(harness: Harness | None) -> list[int]:
    """The processes serving the subscribers: run_ws and its daphne children."""
    return harness.get("ws").group_pids() if harness is not None else []


def _cpu_ms(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU ms of ``pids`` so far."""
    user = system = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) * 1000 / CLK_TCK
        system += int(fields[12]) * 1000 / CLK_TCK
    return user, system


# -- results ---------------------------------------------------------------------
def _stats_lines(harness: Harness | None, name: str, pattern: re.Pattern) -> list[tuple[str, ...]]:
    """The groups of every line of process ``name``'s log that matches ``pattern``."""
    if harness is None:
        return []
    return [m.groups() for m in map(pattern.search, harness.get(name).output.splitlines()) if m]


def _publisher_stats(harness: Harness | None) -> list[dict[str, float]]:
    pattern = re.compile(
        r"ws-publisher stats: (\d+) batches in (\d+) rounds over [\d.]+ s; "
        r"commit->sent ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+); commit->picked ms p50 ([\d.]+) p99 ([\d.]+)"
    )
    keys = ("batches", "rounds", "p50", "p99", "max", "wait50", "wait99")
    return [dict(zip(keys, map(float, groups), strict=True)) for groups in _stats_lines(harness, "matcher", pattern)]


def _hub_stats(harness: Harness | None) -> dict[str, Any]:
    """The ws processes' own view: commit to a message's arrival, and to its fan-out to every socket."""
    pattern = re.compile(
        r"ws-hub stats: (\d+) messages to \d+ sockets over [\d.]+ s; "
        r"commit->received ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+); "
        r"commit->delivered ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+); (\d+) socket writes(?: in (\d+) ms CPU)?"
    )
    windows = [[float(v or 0) for v in groups] for groups in _stats_lines(harness, "ws", pattern)]
    if not windows:
        return {}
    return {
        "messages": int(sum(w[0] for w in windows)),
        "commit_to_received_p50_median_of_5s_windows": sorted(w[1] for w in windows)[len(windows) // 2],
        "commit_to_received_p99_worst_5s_window": max(w[2] for w in windows),
        "commit_to_fanned_out_p50_median_of_5s_windows": sorted(w[4] for w in windows)[len(windows) // 2],
        "commit_to_fanned_out_p99_worst_5s_window": max(w[5] for w in windows),
        "commit_to_fanned_out_max": max(w[6] for w in windows),
        "socket_writes": int(sum(w[7] for w in windows)),
        "write_rounds_cpu_ms": int(sum(w[8] for w in windows)),
    }


def _report(market, opt, flow, classes, publisher, ws_urls, rest_urls, cpu) -> dict[str, Any]:
    from markets.models import Trade

    cpu_ms = cpu[0] + cpu[1]
    trades = Trade.objects.filter(market=market).count()
    statuses = flow["statuses"]
    elapsed = flow["elapsed"]
    placed = sum(n for key, n in statuses.items() if not key.startswith("cancel") and key.endswith(" 201"))
    requests = sum(statuses.values())
    keeping_up = [c for kind, c in classes.items() if kind != "slow"]
    delivered = sum(c["trades"] for c in keeping_up)
    subscribers = sum(c["sockets"] for c in keeping_up)
    frames = sum(c["frames"] for c in classes.values())
    latencies = sorted(x for c in keeping_up for x in c["latencies"])
    result: dict[str, Any] = {
        "subscribers": opt["subscribers"],
        "rate_target": opt["rate"],
        "seconds": opt["seconds"],
        "feed": opt.get("feed", "rest"),
        "orders_per_sec": round(placed / elapsed, 1),
        "requests_per_sec": round(requests / elapsed, 1),
        "requests_asked_sent": [flow["due"], flow["sent"]],
        "feeder_late_ms_p50_p99": flow["late_ms_p50_p99"],
        "answer_ms_p50_p99": flow["answer_ms_p50_p99"],
        "http": dict(sorted(statuses.items())),
        "trades": trades,
        "trades_per_sec": round(trades / elapsed, 1),
        "messages_delivered": delivered,
        "messages_per_sec": round(delivered / elapsed, 1),
        "delivery_ratio": round(delivered / (trades * subscribers), 4) if trades and subscribers else None,
        "latency_ms": _percentiles(latencies),
        "batch_match_commit_ms": _percentiles(sorted(x for c in classes.values() for x in c["batch_ms"])),
        "frames_delivered": frames,
        "classes": {
            kind: {
                "sockets": c["sockets"],
                "trades_delivered": c["trades"],
                "trades_expected": trades * c["sockets"],
                "frames": c["frames"],
                "depth_gaps": c["depth_gaps"],
                "disconnected": c["disconnected"],
                "close_codes": c["close_codes"],
                "latency_ms": _percentiles(sorted(c["latencies"])),
            }
            for kind, c in classes.items()
        },
        "ws_processes": opt["ws_processes"],
        "ws_cpu_ms": round(cpu_ms),
        "ws_cpu_user_sys_ms": [round(cpu[0]), round(cpu[1])],
        "ws_cpu_ms_per_1000_trade_deliveries": round(cpu_ms * 1000 / delivered, 2) if delivered else None,
        "ws_cpu_ms_per_1000_frames": round(cpu_ms * 1000 / frames, 2) if frames else None,
    }
    busy = [w for w in publisher if w["batches"]]
    if busy:
        result["publisher_commit_to_sent_ms"] = {
            "p50_median_of_5s_windows": sorted(w["p50"] for w in busy)[len(busy) // 2],
            "p99_worst_5s_window": max(w["p99"] for w in busy),
            "max": max(w["max"] for w in busy),
            "queue_wait_p50_median": sorted(w["wait50"] for w in busy)[len(busy) // 2],
            "batches": int(sum(w["batches"] for w in busy)),
            "rounds": int(sum(w["rounds"] for w in busy)),
        }
    backend = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 2)[-2] if settings.REDIS_URL else "in-memory"
    if opt["url"]:
        result["stack"] = f"external {rest_urls[0]} (ws {ws_urls[0]})"
    else:
        tiers = f"run_ws x{opt['ws_processes']} + granian web x{opt['web']}"
        result["stack"] = f"{tiers} + run_matcher + celery worker -c 2; {backend} + {layer}"
    return result


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None

    def at(p: float) -> float:
        return round(values[min(len(values) - 1, int(len(values) * p))], 1)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(values[-1], 1)}
