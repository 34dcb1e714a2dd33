"""A minimal WebSocket subscriber for benchmarks: many sockets per process, frames parsed by hand.

The benchmark's clients must not be its bottleneck. A full client library costs tens of
microseconds per message (task wake-ups, UTF-8 checks, JSON); this reader is an asyncio
``Protocol`` that splits frames itself and reads only the bytes it needs: the channel
prefix and ``event_time`` of each frame (sliced, not parsed). A few ``sample`` sockets
parse every frame as JSON and check the depth chain; ``slow`` sockets stop reading once
subscribed, to show that a subscriber that cannot keep up is disconnected and holds up
nobody.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import signal
import socket
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

OPEN_CONCURRENCY = 50  # connections opened at once per process (daphne's listen backlog is 50)


def raise_fd_limit() -> int:
    """Raise this process's open-files limit to its hard limit (thousands of sockets); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (an all-zero mask: the payload goes as is)."""
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + b"\x00\x00\x00\x00" + payload


@dataclass
class ClassStats:
    """What the sockets of one class received."""

    sockets: int = 0
    trades: int = 0  # trade events (items of a batch frame count one each)
    frames: int = 0  # every data frame: trade frames, batch frames, depth diffs
    depth_gaps: int = 0
    disconnected: int = 0
    close_codes: dict[int, int] = field(default_factory=dict)
    latencies: array = field(default_factory=lambda: array("d"))
    # sample class: a trade's commit (event_time) minus its creation (data.time): the batch's match + commit
    batch_ms: array = field(default_factory=lambda: array("d"))


class Reader(asyncio.Protocol):
    def __init__(self, host: str, path: str, subscribe: str, kind: str, stats: ClassStats, opened: asyncio.Future):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.subscribe = subscribe
        self.kind = kind
        self.stats = stats
        self.opened = opened
        self.buf = b""
        self.upgraded = False
        self.subscribed = False
        self.closed = False
        self.last_sequence: int | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if self.subscribed:
                self.stats.disconnected += 1
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before subscribing"))

    def data_received(self, data: bytes) -> None:
        now = time.time() * 1000
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(buf[:80].decode(errors="replace")))
                self.transport.close()
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            self.transport.write(client_frame(self.subscribe.encode()))
        pos, size = 0, len(buf)
        stats = self.stats
        while size - pos >= 2:
            b0, n = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + n
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self._text(buf, start, end, now)
            elif opcode == 0x8:
                code = int.from_bytes(buf[start : start + 2], "big") if n >= 2 else 1005
                stats.close_codes[code] = stats.close_codes.get(code, 0) + 1
                if self.subscribed and not self.closed:
                    stats.disconnected += 1
                self.closed = True
                self.transport.close()
            elif opcode == 0x9:  # daphne pings every 20 s and drops sockets whose pong does not echo it
                self.transport.write(client_frame(buf[start:end], opcode=0xA))
            pos = end
        self.buf = buf[pos:] if pos < size else b""

    def _text(self, buf: bytes, start: int, end: int, now: float) -> None:
        stats = self.stats
        # Every event starts {"channel":"<name>","event_time":<ms>,"data":...
        if buf[start + 2 : start + 9] != b"channel":
            if not self.subscribed:
                if b'"op":"subscribed"' not in buf[start:end]:
                    self.opened.set_exception(ConnectionError(buf[start:end].decode(errors="replace")))
                    return
                self.subscribed = True
                if self.kind == "slow":
                    self.transport.pause_reading()
                self.opened.set_result(None)
            return
        stats.frames += 1
        head = buf[start + 12 : start + 18]
        if head == b"trades":
            mark = buf.find(b'"event_time":', start + 12, end)
            event_time = int(buf[mark + 13 : buf.find(b",", mark, end)])
            if buf[buf.find(b'"data":', mark, end) + 7] == 0x5B:  # a batch frame: "data":[...]
                count = buf.count(b'{"id":', mark, end)
            else:
                count = 1
            stats.trades += count
            latency = now - event_time
            for _ in range(count):
                stats.latencies.append(latency)
        if self.kind == "sample":
            message = json.loads(buf[start:end])
            data = message["data"]
            if message["channel"].startswith("trades:") and isinstance(data, dict):
                made = datetime.fromisoformat(data["time"].replace("Z", "+00:00")).timestamp() * 1000
                stats.batch_ms.append(message["event_time"] - made)
            elif message["channel"].startswith("depth:"):
                if self.last_sequence is not None and data["first_sequence"] != self.last_sequence + 1:
                    stats.depth_gaps += 1
                self.last_sequence = data["sequence"]


async def _open_all(url: str, plan: list[tuple[str, str]], stats: dict[str, ClassStats]) -> list[Reader]:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    readers: list[Reader] = []

    async def one(kind: str, subscribe: str) -> None:
        async with gate:
            for attempt in range(5):
                opened = loop.create_future()
                reader = Reader(f"{parts.hostname}:{parts.port}", parts.path, subscribe, kind, stats[kind], opened)
                try:
                    if kind == "slow":
                        # A small receive buffer: the kernel holds little for a client that stopped reading.
                        sock = socket.socket()
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                        sock.setblocking(False)
                        await loop.sock_connect(sock, (parts.hostname, parts.port))
                        await loop.create_connection(lambda r=reader: r, sock=sock)
                    else:
                        await loop.create_connection(lambda r=reader: r, parts.hostname, parts.port)
                    await asyncio.wait_for(opened, 30)
                except (TimeoutError, OSError, ConnectionError):
                    if reader.transport is not None:
                        reader.transport.abort()
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                stats[kind].sockets += 1
                readers.append(reader)
                return

    await asyncio.gather(*(one(kind, subscribe) for kind, subscribe in plan))
    return readers


def reader_main(urls: list[str], plan: list[tuple[str, str]], ready, stop, out) -> None:
    """A reader process: open ``plan`` ((class, subscribe message) per socket) over ``urls``, report at ``stop``."""
    raise_fd_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stats = {kind: ClassStats() for kind, _ in plan}

    async def main() -> None:
        shares = [plan[i :: len(urls)] for i in range(len(urls))]
        parts = await asyncio.gather(*(_open_all(url, share, stats) for url, share in zip(urls, shares, strict=True)))
        readers = [r for part in parts for r in part]
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        # The slow sockets read what reached them, so a close frame sent to them counts.
        for reader in readers:
            if reader.kind == "slow" and not reader.closed:
                reader.transport.resume_reading()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(r.kind == "slow" and not r.closed for r in readers):
            await asyncio.sleep(0.1)
        for reader in readers:
            if not reader.closed:
                reader.closed = True
                reader.transport.close()
        await asyncio.sleep(0.2)

    try:
        asyncio.run(main())
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        out.send({"error": repr(exc)})
        return
    out.send(
        {
            kind: {
                "sockets": s.sockets,
                "trades": s.trades,
                "frames": s.frames,
                "depth_gaps": s.depth_gaps,
                "disconnected": s.disconnected,
                "close_codes": s.close_codes,
                "latencies": s.latencies.tobytes(),
                "batch_ms": s.batch_ms.tobytes(),
            }
            for kind, s in stats.items()
        }
    )


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sum the reader processes' per-class reports (latencies as one array per class)."""
    merged: dict[str, dict[str, Any]] = {}
    for report in reports:
        for kind, part in report.items():
            into = merged.setdefault(
                kind,
                {
                    "sockets": 0,
                    "trades": 0,
                    "frames": 0,
                    "depth_gaps": 0,
                    "disconnected": 0,
                    "close_codes": {},
                    "latencies": array("d"),
                    "batch_ms": array("d"),
                },
            )
            for key in ("sockets", "trades", "frames", "depth_gaps", "disconnected"):
                into[key] += part[key]
            for code, n in part["close_codes"].items():
                into["close_codes"][code] = into["close_codes"].get(code, 0) + n
            for key in ("latencies", "batch_ms"):
                values = array("d")
                values.frombytes(part[key])
                into[key].extend(values)
    return merged
