"""Benchmark the WebSocket fan-out: trade latency from commit to subscribers under REST order flow.

Unless ``--url`` names a running stack, it starts the real one as subprocesses on the
configured ``DATABASE_URL`` / ``REDIS_URL``: daphne, ``run_matcher`` for the bench
market and a Celery worker. It creates a fresh market and funded traders (custody
deposit service), opens ``--subscribers`` WebSocket clients on ``trades:<market>`` in
separate processes, places orders over REST at ``--rate`` a second for ``--seconds``
and prints ONE JSON line: latency from each trade's commit (its ``event_time``) to
its arrival at each subscriber, messages a second delivered, orders a second
achieved. Progress goes to stderr. Loopback only.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MID_TICKS = 10_000  # price 100.00 with a 0.01 tick
SPREAD_TICKS = 15
PER_SUBSCRIBER_PROCESS = 50


class Command(BaseCommand):
    help = "WebSocket benchmark: N subscribers on trades:S while orders arrive over REST; prints one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=100)
        parser.add_argument("--rate", type=float, default=500, help="orders (and cancels) a second, over REST")
        parser.add_argument("--seconds", type=float, default=30)
        parser.add_argument("--traders", type=int, default=20, help="traders (one HTTP client thread each)")
        parser.add_argument("--url", default="", help="use a running stack at this http:// URL instead of starting one")
        parser.add_argument(
            "--client-nice",
            type=int,
            default=0,
            help="nice level of the order-placing clients (they stand in for the traders' own machines; a positive "
            "value lets the exchange's processes come first for the CPUs they share here)",
        )
        parser.add_argument(
            "--rest-nice",
            type=int,
            default=0,
            help="nice level of the REST daphne processes (with --web 2+), as if the WebSocket tier had CPUs "
            "of its own",
        )
        parser.add_argument(
            "--web",
            type=int,
            default=2,
            help="daphne processes to start: with 2 or more the first serves the WebSocket subscribers and the "
            "others REST, as the Procfile's ws and web processes; 1 serves both from one process",
        )

    # -- main -------------------------------------------------------------------------
    def handle(self, *args: Any, **opt: Any) -> None:
        if opt["subscribers"] < 1 or opt["rate"] <= 0 or opt["seconds"] <= 0 or opt["traders"] < 1:
            raise CommandError("subscribers, rate, seconds and traders must be positive")
        started = time.monotonic()
        logging.getLogger("httpx").setLevel(logging.WARNING)
        market, tokens = self._setup(opt["traders"])
        procs: list[subprocess.Popen] = []
        try:
            if opt["url"]:
                urls = [opt["url"].rstrip("/")]
            else:
                urls, procs = self._start_stack(market.symbol, opt["web"], opt["rest_nice"])
            self._wait_http(urls, procs)
            self._log(f"stack up; market {market.symbol}; {opt['traders']} funded traders")
            # With several daphne processes the first serves the subscribers, the others REST.
            rest_urls = urls[1:] or urls
            self._seed_book(rest_urls[0], market.symbol, tokens)
            subs = self._open_subscribers(urls[:1], market.symbol, opt["subscribers"])
            if opt["client_nice"]:
                os.nice(opt["client_nice"])  # the order-placing clients; subscribers already started
            flow = self._order_flow(rest_urls, market.symbol, tokens, opt["rate"], opt["seconds"])
            self._wait_matched(market)
            time.sleep(1.0)  # let the last trades reach every subscriber
            received = self._close_subscribers(subs)
            publisher = self._publisher_stats(procs)
            hub = self._hub_stats(procs)
        finally:
            for proc in procs:
                _stop(proc)
        result = self._report(market, opt, flow, received, publisher, bool(opt["url"]), urls)
        if hub:
            result["ws_process_ms"] = hub
        self._log(f"done in {time.monotonic() - started:.0f} s")
        self.stdout.write(json.dumps(result, separators=(",", ":")))

    def _log(self, text: str) -> None:
        self.stderr.write(f"[bench_ws] {text}")
        self.stderr.flush()

    # -- setup --------------------------------------------------------------------------
    def _setup(self, traders: int):
        from matching.soak import access_token, soak_market_create

        setup = soak_market_create(
            traders=traders,
            tag=secrets.token_hex(3).upper(),
            kind="bench",
            base_funding=Decimal("1000000"),
            quote_funding=Decimal("1000000000"),
            min_notional=Decimal("0.01"),
        )
        return setup.market, [access_token(user) for user in setup.users]

    def _start_stack(self, symbol: str, web: int, rest_nice: int) -> tuple[list[str], list[subprocess.Popen]]:
        root = Path(settings.BASE_DIR)
        logs = root / "var" / "bench-logs"
        logs.mkdir(parents=True, exist_ok=True)
        bin_dir = Path(sys.executable).parent
        env = dict(os.environ, WS_PUBLISH_STATS_SECONDS="5", WS_HUB_STATS_SECONDS="5", PYTHONUNBUFFERED="1")
        env.setdefault("SECURE_SSL_REDIRECT", "0")
        ports = [_free_port() for _ in range(web)]
        commands = {
            f"web{i}": [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(p), "exchange_site.asgi:application"]
            for i, p in enumerate(ports)
        }
        commands["matcher"] = [sys.executable, "manage.py", "run_matcher", "--market", symbol]
        commands["worker"] = [
            str(bin_dir / "celery"), "-A", "exchange_site", "worker", "-l", "warning", "-c", "2",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        procs = []
        for name, command in commands.items():
            log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            nice = rest_nice if name.startswith("web") and name != "web0" else 0
            proc = subprocess.Popen(
                command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda n=nice: os.nice(n)
            )
            proc.bench_name = name  # type: ignore[attr-defined]
            proc.bench_log = logs / f"{name}.log"  # type: ignore[attr-defined]
            procs.append(proc)
        self._log(f"started {', '.join(commands)}; logs in {logs}")
        return [f"http://127.0.0.1:{p}" for p in ports], procs

    def _wait_http(self, urls: list[str], procs: list[subprocess.Popen], timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                for proc in procs:
                    if proc.poll() is not None:
                        raise CommandError(f"{proc.bench_name} exited with {proc.returncode}; see {proc.bench_log}")
                try:
                    if httpx.get(f"{url}/api/v1/time", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise CommandError(f"{url} did not answer in {timeout:.0f} s")
                time.sleep(0.2)

    def _seed_book(self, url: str, symbol: str, tokens: list[str]) -> None:
        """Resting orders on both sides, so market orders find liquidity from the start."""
        import httpx

        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens[0]}"}) as http:
            for i in range(1, SPREAD_TICKS + 1):
                for side, ticks in (("buy", MID_TICKS - i), ("sell", MID_TICKS + i)):
                    resp = http.post(
                        "/api/v1/orders",
                        json={"market": symbol, "side": side, "type": "limit", "price": _price(ticks), "quantity": "1"},
                    )
                    if resp.status_code != 201:
                        raise CommandError(f"seeding the book failed: {resp.status_code} {resp.text}")

    # -- subscribers ----------------------------------------------------------------
    def _open_subscribers(self, urls: list[str], symbol: str, count: int) -> list[tuple]:
        ctx = multiprocessing.get_context("spawn")
        channel = f"trades:{symbol}"
        procs = max(1, math.ceil(count / PER_SUBSCRIBER_PROCESS))
        subs = []
        for i in range(procs):
            share = count // procs + (1 if i < count % procs else 0)
            ws_url = urls[i % len(urls)].replace("http://", "ws://") + "/ws/v1/"
            ready, stop = ctx.Event(), ctx.Event()
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=subscribers_main, args=(ws_url, channel, share, ready, stop, child), daemon=True)
            proc.start()
            subs.append((proc, ready, stop, parent))
        for _, ready, _, _ in subs:
            if not ready.wait(60):
                raise CommandError("subscribers did not connect in 60 s")
        self._log(f"{count} subscribers on {channel} in {procs} process(es)")
        return subs

    def _close_subscribers(self, subs: list[tuple]) -> dict[str, Any]:
        from array import array

        latencies = array("d")
        counts: list[int] = []
        batch_ms: list[float] = []
        for _, _, stop, _ in subs:
            stop.set()
        for proc, _, _, parent in subs:
            if not parent.poll(60):
                raise CommandError("a subscriber process did not report")
            lat_bytes, proc_counts, proc_batch = parent.recv()
            part = array("d")
            part.frombytes(lat_bytes)
            latencies.extend(part)
            counts.extend(proc_counts)
            batch_ms.extend(proc_batch)
            proc.join(10)
        return {"latencies": latencies, "counts": counts, "batch_ms": batch_ms}

    # -- order flow -------------------------------------------------------------------
    def _order_flow(
        self, urls: list[str], symbol: str, tokens: list[str], rate: float, seconds: float
    ) -> dict[str, Any]:
        statuses: Counter = Counter()
        lock = threading.Lock()
        per_thread = rate / len(tokens)
        start = time.monotonic() + 0.2
        end = start + seconds

        def run(index: int, token: str) -> None:
            import httpx

            rng = random.Random(index)
            resting: list[int] = []
            local: Counter = Counter()
            url = urls[index % len(urls)]
            with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
                k = 0
                while time.monotonic() < end:
                    due = start + (k + rng.random()) / per_thread
                    if due >= end:
                        break
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    k += 1
                    kind, resp = _one_order(http, rng, symbol, resting)
                    local[(kind, resp.status_code)] += 1
            with lock:
                statuses.update(local)

        threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(tokens)]
        self._log(f"placing orders at {rate:g}/s for {seconds:g} s")
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() < end:
                self._log(f"{time.monotonic() - start:.0f} s")
        for t in threads:
            t.join(120)
        elapsed = max(time.monotonic() - start, 1e-9)
        return {"statuses": statuses, "elapsed": elapsed}

    def _wait_matched(self, market, timeout: float = 120) -> None:
        from markets.models import Order

        deadline = time.monotonic() + timeout
        while Order.objects.filter(market=market, status=Order.Status.NEW).exists():
            if time.monotonic() > deadline:
                raise CommandError("the matcher did not catch up in time")
            time.sleep(0.2)

    # -- results ---------------------------------------------------------------------
    def _publisher_stats(self, procs: list[subprocess.Popen]) -> list[dict[str, float]]:
        pattern = re.compile(
            r"ws-publisher stats: (\d+) batches in (\d+) rounds over [\d.]+ s; "
            r"commit->sent ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+); commit->picked ms p50 ([\d.]+) p99 ([\d.]+)"
        )
        windows = []
        for batches, rounds, p50, p99, top, wait50, wait99 in _stats_lines(procs, "matcher", pattern):
            windows.append(
                {
                    "batches": int(batches),
                    "rounds": int(rounds),
                    "p50": float(p50),
                    "p99": float(p99),
                    "max": float(top),
                    "wait50": float(wait50),
                    "wait99": float(wait99),
                }
            )
        return windows

    def _hub_stats(self, procs: list[subprocess.Popen]) -> dict[str, Any]:
        """The subscribers' daphne's own view: commit to the message's arrival, and to its fan-out."""
        pattern = re.compile(
            r"ws-hub stats: (\d+) messages to \d+ sockets over [\d.]+ s; "
            r"commit->received ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+); "
            r"commit->delivered ms p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+)"
        )
        windows = [[float(v) for v in groups] for groups in _stats_lines(procs, "web0", pattern)]
        if not windows:
            return {}
        return {
            "messages": int(sum(w[0] for w in windows)),
            "commit_to_received_p50_median_of_5s_windows": sorted(w[1] for w in windows)[len(windows) // 2],
            "commit_to_received_p99_worst_5s_window": max(w[2] for w in windows),
            "commit_to_fanned_out_p50_median_of_5s_windows": sorted(w[4] for w in windows)[len(windows) // 2],
            "commit_to_fanned_out_p99_worst_5s_window": max(w[5] for w in windows),
            "commit_to_fanned_out_max": max(w[6] for w in windows),
        }

    def _report(self, market, opt, flow, received, publisher, external: bool, urls: list[str]) -> dict[str, Any]:
        from markets.models import Trade

        trades = Trade.objects.filter(market=market).count()
        latencies = sorted(received["latencies"])
        statuses = flow["statuses"]
        elapsed = flow["elapsed"]
        placed = sum(n for (kind, code), n in statuses.items() if kind != "cancel" and code == 201)
        requests = sum(statuses.values())
        batch = sorted(received["batch_ms"])
        result: dict[str, Any] = {
            "subscribers": opt["subscribers"],
            "rate_target": opt["rate"],
            "seconds": opt["seconds"],
            "orders_per_sec": round(placed / elapsed, 1),
            "requests_per_sec": round(requests / elapsed, 1),
            "http": {f"{kind} {code}": n for (kind, code), n in sorted(statuses.items())},
            "trades": trades,
            "trades_per_sec": round(trades / elapsed, 1),
            "messages_delivered": len(latencies),
            "messages_per_sec": round(len(latencies) / elapsed, 1),
            "delivery_ratio": round(len(latencies) / (trades * opt["subscribers"]), 4) if trades else None,
            "latency_ms": _percentiles(latencies),
            "batch_match_commit_ms": _percentiles(batch),
        }
        if publisher:
            busy = [w for w in publisher if w["batches"]]
            result["publisher_commit_to_sent_ms"] = {
                "p50_median_of_5s_windows": sorted(w["p50"] for w in busy)[len(busy) // 2],
                "p99_worst_5s_window": max(w["p99"] for w in busy),
                "max": max(w["max"] for w in busy),
                "queue_wait_p50_median": sorted(w["wait50"] for w in busy)[len(busy) // 2],
                "batches": sum(w["batches"] for w in busy),
                "rounds": sum(w["rounds"] for w in busy),
            }
        backend = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 2)[-2] if settings.REDIS_URL else "in-memory"
        daphnes = "daphne (ws + rest)" if len(urls) == 1 else f"daphne ws + daphne rest x{len(urls) - 1}"
        processes = f"{daphnes} + run_matcher + celery worker -c 2"
        result["stack"] = f"external {urls[0]}" if external else f"{processes}; {backend} + {layer}"
        return result


def _stats_lines(procs: list[subprocess.Popen], name: str, pattern: re.Pattern) -> list[tuple[str, ...]]:
    """The groups of every line of process ``name``'s log that matches ``pattern``."""
    found = []
    for proc in procs:
        if proc.bench_name == name:
            for line in Path(proc.bench_log).read_text(errors="replace").splitlines():
                match = pattern.search(line)
                if match:
                    found.append(match.groups())
    return found


def _one_order(http, rng: random.Random, symbol: str, resting: list[int]):
    """One request of the flow: cancels, market orders and limit orders around the mid price."""
    roll = rng.random()
    if roll < 0.2 and resting:
        return "cancel", http.delete(f"/api/v1/orders/{resting.pop(rng.randrange(len(resting)))}")
    side = rng.choice(["buy", "sell"])
    quantity = f"{rng.randint(1, 50) / 1000:.3f}"
    if roll < 0.3:
        body = {"market": symbol, "side": side, "type": "market"}
        if side == "buy":
            body["quote_quantity"] = f"{rng.randint(1, 50) / 10:.1f}"
        else:
            body["quantity"] = quantity
        return "market", http.post("/api/v1/orders", json=body)
    # Buys a little above mid and sells a little below cross about half the time.
    offset = rng.randint(-SPREAD_TICKS, SPREAD_TICKS)
    ticks = MID_TICKS + offset if side == "buy" else MID_TICKS - offset
    resp = http.post(
        "/api/v1/orders",
        json={"market": symbol, "side": side, "type": "limit", "price": _price(ticks), "quantity": quantity},
    )
    if resp.status_code == 201:
        resting.append(resp.json()["id"])
        if len(resting) > 200:
            resting.pop(0)
    return "limit", resp


def subscribers_main(url: str, channel: str, count: int, ready, stop, out) -> None:
    """A subscriber process: ``count`` WebSocket clients; reports latencies when ``stop`` is set."""
    import asyncio
    from array import array
    from datetime import datetime

    from websockets.asyncio.client import connect

    latencies = array("d")
    counts = [0] * count
    batch_ms: list[float] = []

    async def client(i: int, opened: list, conns: list) -> None:
        async with connect(url, max_size=None, compression=None, open_timeout=60, ping_interval=None) as ws:
            conns.append(ws)
            await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
            ack = json.loads(await ws.recv())
            if ack.get("op") != "subscribed":
                raise RuntimeError(f"subscribe refused: {ack}")
            opened.append(i)
            if len(opened) == count:
                ready.set()
            async for raw in ws:
                now = time.time() * 1000
                message = json.loads(raw)
                if message.get("channel") != channel:
                    continue
                latencies.append(now - message["event_time"])
                counts[i] += 1
                if i == 0:
                    made = datetime.fromisoformat(message["data"]["time"].replace("Z", "+00:00")).timestamp() * 1000
                    batch_ms.append(message["event_time"] - made)

    async def main() -> None:
        opened: list[int] = []
        conns: list = []
        tasks = [asyncio.create_task(client(i, opened, conns)) for i in range(count)]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for ws in conns:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(main())
    out.send((latencies.tobytes(), counts, batch_ms))


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None

    def at(p: float) -> float:
        return round(values[min(len(values) - 1, int(len(values) * p))], 1)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(values[-1], 1)}


def _price(ticks: int) -> str:
    return f"{Decimal(ticks) / 100:.2f}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
