"""An open-loop order feeder for benchmarks: the asked rate through the REST front door.

The WebSocket benchmark used to place orders from one thread per trader, each waiting
for its answer (closed loop): with the web tier answering in 100-400 ms on a loaded
box, 20 such traders fed 48 orders/s when 100 were asked. This feeder runs in a
process of its own and keeps a schedule: a request is due every ``1/rate`` seconds
whatever the answers' latency, sent on whichever of ``connections`` keep-alive HTTP/1.1
connections is free (queued when none is; the report counts how late requests went
out). The client is an asyncio ``Protocol`` that writes requests and splits answers
by hand (tens of microseconds each, against a millisecond for a full client), so the
feeder is not the bottleneck.

The flow: limit orders around the mid price that cross about half the time, market
orders, and cancels of the connection's own resting orders.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MID_TICKS = 10_000  # price 100.00 with a 0.01 tick
SPREAD_TICKS = 15
RESTING_KEPT = 200


def price(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, host: str, token: str) -> None:
        self.host = host
        self.auth = f"Bearer {token}"
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.waiter: asyncio.Future | None = None
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))
        if not self.lost.done():
            self.lost.set_result(None)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> asyncio.Future:
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {self.auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head.encode() + payload)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        rest = self.buf[end + 4 :]
        if "content-length" in headers:
            length = int(headers["content-length"])
            if len(rest) < length:
                return
            body, self.buf = rest[:length], rest[length:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parsed = _dechunk(rest)
            if parsed is None:
                return
            body, self.buf = parsed
        else:
            body, self.buf = rest, b""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))


def _dechunk(data: bytes) -> tuple[bytes, bytes] | None:
    """(body, what follows) of a complete chunked body, or None while incomplete."""
    out, pos = [], 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(data[pos:line_end].split(b";")[0], 16)
        start = line_end + 2
        if len(data) < start + size + 2:
            return None
        if size == 0:
            return b"".join(out), data[start + 2 :]
        out.append(data[start : start + size])
        pos = start + size + 2


@dataclass
class FeedResult:
    statuses: Counter = field(default_factory=Counter)
    due: int = 0
    sent: int = 0
    late_ms: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


async def _one_order(conn: HttpConnection, rng: random.Random, symbol: str, resting: list[int]) -> tuple[str, int]:
    roll = rng.random()
    if roll < 0.2 and resting:
        order_id = resting.pop(rng.randrange(len(resting)))
        status, _ = await conn.request("DELETE", f"/api/v1/orders/{order_id}")
        return "cancel", status
    side = rng.choice(["buy", "sell"])
    quantity = f"{rng.randint(1, 50) / 1000:.3f}"
    if roll < 0.3:
        body: dict[str, Any] = {"market": symbol, "side": side, "type": "market"}
        if side == "buy":
            body["quote_quantity"] = f"{rng.randint(1, 50) / 10:.1f}"
        else:
            body["quantity"] = quantity
        status, _ = await conn.request("POST", "/api/v1/orders", body)
        return "market", status
    # Buys a little above mid and sells a little below cross about half the time.
    offset = rng.randint(-SPREAD_TICKS, SPREAD_TICKS)
    ticks = MID_TICKS + offset if side == "buy" else MID_TICKS - offset
    body = {"market": symbol, "side": side, "type": "limit", "price": price(ticks), "quantity": quantity}
    status, raw = await conn.request("POST", "/api/v1/orders", body)
    if status == 201:
        resting.append(json.loads(raw)["id"])
        if len(resting) > RESTING_KEPT:
            resting.pop(0)
    return "limit", status


async def feed(
    urls: list[str], symbol: str, tokens: list[str], rate: float, seconds: float, connections: int
) -> FeedResult:
    """Place orders at ``rate`` a second for ``seconds`` over ``connections`` connections."""
    loop = asyncio.get_running_loop()
    result = FeedResult()
    conns: list[HttpConnection] = []
    for i in range(connections):
        parts = urlsplit(urls[i % len(urls)])
        token = tokens[i % len(tokens)]
        _, conn = await loop.create_connection(
            lambda p=parts, t=token: HttpConnection(f"{p.hostname}:{p.port}", t), parts.hostname, parts.port
        )
        conns.append(conn)
    tickets: asyncio.Queue = asyncio.Queue()
    start = loop.time() + 0.2
    end = start + seconds

    async def worker(index: int, conn: HttpConnection) -> None:
        rng = random.Random(index)
        resting: list[int] = []
        while True:
            due = await tickets.get()
            if due is None:
                return
            sent = loop.time()
            result.late_ms.append((sent - due) * 1000)
            try:
                kind, status = await _one_order(conn, rng, symbol, resting)
            except (ConnectionError, OSError):
                result.errors += 1
                return
            result.latencies_ms.append((loop.time() - sent) * 1000)
            result.statuses[(kind, status)] += 1

    workers = [asyncio.create_task(worker(i, c)) for i, c in enumerate(conns)]
    rng = random.Random(0)
    k = 0
    while True:
        due = start + (k + rng.random() * 0.5) / rate
        if due >= end:
            break
        pause = due - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        tickets.put_nowait(due)
        result.due += 1
        k += 1
    # Requests not sent by the end are dropped (counted: due - sent); those in flight finish.
    await asyncio.sleep(0.01)  # a free connection takes the last ticket
    while not tickets.empty():
        tickets.get_nowait()
    for _ in workers:
        tickets.put_nowait(None)
    await asyncio.wait(workers, timeout=60)
    result.sent = len(result.late_ms)
    for conn in conns:
        conn.transport.close()
    return result


def feeder_main(urls: list[str], symbol: str, tokens: list[str], opt: dict[str, Any], out: Any) -> None:
    """The feeder process: run the flow, send a report (statuses as ``"kind code"`` keys) to ``out``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    started = time.monotonic()
    try:
        result = asyncio.run(feed(urls, symbol, tokens, opt["rate"], opt["seconds"], opt["connections"]))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        out.send({"error": repr(exc)})
        return
    late = sorted(result.late_ms) or [0.0]
    latencies = sorted(result.latencies_ms) or [0.0]
    out.send(
        {
            "statuses": {f"{kind} {code}": n for (kind, code), n in result.statuses.items()},
            "due": result.due,
            "sent": result.sent,
            "errors": result.errors,
            "elapsed": opt["seconds"],
            "wall": time.monotonic() - started,
            "late_ms_p50_p99": [round(late[len(late) // 2], 1), round(late[int(len(late) * 0.99)], 1)],
            "answer_ms_p50_p99": [
                round(latencies[len(latencies) // 2], 1),
                round(latencies[int(len(latencies) * 0.99)], 1),
            ],
        }
    )
