"""Benchmark of the matching engine (not a test).

    python -m matching.engine.bench --ops 200000 --seed 1
    python -m matching.engine.bench --ops 200000 --seed 1 --resting 1000000
    python -m matching.engine.bench --ops 200000 --seed 1 --record stream.txt
    python -m matching.engine.bench --replay stream.txt
    python -m matching.engine.bench --ops 200000 --seed 1 --mix stops   # 10% stops, 5% amends

Prints exactly one JSON line on stdout; progress goes to stderr.  The command
stream is generated (or loaded) before the clock starts and only the engine
calls are timed.  See ``docs/ENGINE.md`` for the workload.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

from .book import OrderBook
from .events import (
    BUY,
    GTC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
    Canceled,
    Filled,
    Rested,
    StopRested,
    Trade,
    Triggered,
)

# A command: ("L", id, owner, side, price, qty) | ("M", id, owner, side, qty) | ("C", id)
# | ("S", id, owner, side, stop_price, price or None, qty) (stop-limit, or stop-market without a price)
# | ("A", id, qty, price) (amend; either may be None)
Command = tuple

START_MID = 100_000  # ticks
BAND = 50  # limit prices are uniform in [mid - BAND, mid + BAND]
MAX_QTY = 100
OWNERS = 1000
CHUNK = 256  # commands per clock reading; their events are kept (untimed) only that long
PROGRESS_EVERY = 2.0  # seconds between progress lines on stderr


# Shares of each command per mix: limit, market, stop, amend; the rest are cancels.
MIXES = {
    "standard": (0.70, 0.10, 0.0, 0.0),
    "stops": (0.60, 0.10, 0.10, 0.05),
}
STOP_OFFSET = 30  # a stop is placed 1..STOP_OFFSET ticks beyond the last trade price


def generate(ops: int, seed: int, owners: int = OWNERS, progress: bool = False, mix: str = "standard") -> list[Command]:
    """The seeded workload; ``standard``: 70% limit GTC, 10% market by quantity, 20% cancels.

    ``stops``: 60% limit, 10% market, 10% stop orders (half stop-limit, half
    stop-market, 1-30 ticks beyond the last trade price), 5% amends of a resting
    order (half fewer lots, keeping priority; half a new price, losing it), 15%
    cancels (of resting orders and waiting stops alike).

    Cancels and amends name an order that is actually resting (or waiting) at
    that point of the stream: the stream is generated while driving a scratch
    ``OrderBook`` so the set of ids is known (a cancel with nothing resting is
    ``("C", 0)``, a no-op).
    """
    if mix != "standard":
        return _generate_mix(ops, seed, owners, progress, mix)
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    book = OrderBook()
    submit = book.submit
    resting: list[int] = []  # ids resting in the scratch book
    pos: dict[int, int] = {}  # id -> index in ``resting``

    def drop(oid: int) -> None:
        i = pos.pop(oid, None)
        if i is None:
            return
        last = resting.pop()
        if last != oid:
            resting[i] = last
            pos[last] = i

    cmds: list[Command] = []
    mid = START_MID
    next_id = 1
    last_report = time.monotonic()
    for n in range(ops):
        mid += 1 if rand() < 0.5 else -1
        r = rand()
        if r < 0.8:
            oid = next_id
            next_id += 1
            owner = randint(1, owners)
            side = BUY if rand() < 0.5 else SELL
            qty = randint(1, MAX_QTY)
            if r < 0.7:
                price = max(1, mid + randint(-BAND, BAND))
                cmds.append(("L", oid, owner, side, price, qty))
                events = submit(oid, owner, side, LIMIT, price, qty)
            else:
                cmds.append(("M", oid, owner, side, qty))
                events = submit(oid, owner, side, MARKET, None, qty)
            for ev in events:
                cls = ev.__class__
                if cls is Rested:
                    pos[ev[0]] = len(resting)
                    resting.append(ev[0])
                elif cls is Filled or cls is Canceled:
                    drop(ev[0])
        elif resting:
            oid = resting[randint(0, len(resting) - 1)]
            drop(oid)
            book.cancel(oid)
            cmds.append(("C", oid))
        else:
            cmds.append(("C", 0))
        if progress and n % 4096 == 0 and time.monotonic() - last_report > PROGRESS_EVERY:
            last_report = time.monotonic()
            print(f"bench: generated {n}/{ops} commands", file=sys.stderr)
    return cmds


def _generate_mix(ops: int, seed: int, owners: int, progress: bool, mix: str) -> list[Command]:
    """``generate`` for the mixes with stops and amends (kept apart: the standard stream stays as it was)."""
    p_limit, p_market, p_stop, p_amend = MIXES[mix]
    c_market = p_limit + p_market
    c_stop = c_market + p_stop
    c_amend = c_stop + p_amend
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    book = OrderBook()
    live: list[int] = []  # resting orders and waiting stops
    pos: dict[int, int] = {}
    resting: set[int] = set()  # of which resting in the book (amendable)

    def add(oid: int) -> None:
        if oid not in pos:
            pos[oid] = len(live)
            live.append(oid)

    def drop(oid: int) -> None:
        resting.discard(oid)
        i = pos.pop(oid, None)
        if i is None:
            return
        last = live.pop()
        if last != oid:
            live[i] = last
            pos[last] = i

    def apply(events: list) -> None:
        for ev in events:
            cls = ev.__class__
            if cls is Rested:
                add(ev[0])
                resting.add(ev[0])
            elif cls is StopRested:
                add(ev[0])
            elif cls is Filled or cls is Canceled or cls is Triggered:
                drop(ev[0])

    cmds: list[Command] = []
    mid = START_MID
    next_id = 1
    last_report = time.monotonic()
    for n in range(ops):
        mid += 1 if rand() < 0.5 else -1
        r = rand()
        if r < c_stop:
            oid = next_id
            next_id += 1
            owner = randint(1, owners)
            side = BUY if rand() < 0.5 else SELL
            qty = randint(1, MAX_QTY)
            if r < p_limit:
                price = max(1, mid + randint(-BAND, BAND))
                cmds.append(("L", oid, owner, side, price, qty))
                apply(book.submit(oid, owner, side, LIMIT, price, qty))
            elif r < c_market:
                cmds.append(("M", oid, owner, side, qty))
                apply(book.submit(oid, owner, side, MARKET, None, qty))
            else:
                ref = book.last_price() or mid
                offset = randint(1, STOP_OFFSET)
                stop = ref + offset if side == BUY else max(1, ref - offset)
                price = None
                if rand() < 0.5:  # stop-limit a few ticks through its stop
                    price = stop + randint(0, 10) if side == BUY else max(1, stop - randint(0, 10))
                cmds.append(("S", oid, owner, side, stop, price, qty))
                apply(_submit_stop(book, oid, owner, side, stop, price, qty))
        elif r < c_amend:
            if resting:
                oid = live[randint(0, len(live) - 1)]
                if oid in resting:
                    info = book.get(oid)
                    if rand() < 0.5 and info.quantity > 1:
                        qty, price = randint(1, info.quantity - 1), None
                    else:
                        qty, price = randint(1, MAX_QTY), max(1, info.price + randint(-5, 5))
                    cmds.append(("A", oid, qty, price))
                    apply(book.amend(oid, qty, price))
                    continue
            cmds.append(("C", 0))
        elif live:
            oid = live[randint(0, len(live) - 1)]
            drop(oid)
            apply(book.cancel(oid))
            cmds.append(("C", oid))
        else:
            cmds.append(("C", 0))
        if progress and n % 4096 == 0 and time.monotonic() - last_report > PROGRESS_EVERY:
            last_report = time.monotonic()
            print(f"bench: generated {n}/{ops} commands", file=sys.stderr)
    return cmds


def _submit_stop(book: OrderBook, oid: int, owner: int, side: str, stop: int, price: int | None, qty: int) -> list:
    kind = STOP_MARKET if price is None else STOP_LIMIT
    return book.submit(oid, owner, side, kind, price, qty, None, GTC, False, "cancel_taker", stop)


def write_stream(cmds: Iterable[Command], out: TextIO) -> None:
    """Write commands in the replay format (owners are not recorded)."""
    for c in cmds:
        kind = c[0]
        if kind == "L":
            out.write(f"L {c[1]} {c[3]} {c[4]} {c[5]}\n")
        elif kind == "M":
            out.write(f"M {c[1]} {c[3]} {c[4]}\n")
        elif kind == "S":
            out.write(f"S {c[1]} {c[3]} {c[4]} {'-' if c[5] is None else c[5]} {c[6]}\n")
        elif kind == "A":
            out.write(f"A {c[1]} {'-' if c[2] is None else c[2]} {'-' if c[3] is None else c[3]}\n")
        else:
            out.write(f"C {c[1]}\n")


def parse_stream(lines: Iterable[str]) -> list[Command]:
    """Parse the replay format; every order gets its own owner (= its id).

    ``L <id> <buy|sell> <price_ticks> <qty_lots>``, ``M <id> <buy|sell> <qty_lots>``,
    ``C <id>``, ``S <id> <buy|sell> <stop_ticks> <price_ticks|-> <qty_lots>`` (a stop-limit,
    or with ``-`` a stop-market), ``A <id> <qty_lots|-> <price_ticks|->`` (amend).
    Blank lines and lines starting with ``#`` are skipped.
    Raises ``ValueError`` naming the line on anything else.
    """
    cmds: list[Command] = []
    sides = {"buy": BUY, "sell": SELL}
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            kind = parts[0]
            if kind == "L" and len(parts) == 5:
                oid = int(parts[1])
                cmds.append(("L", oid, oid, sides[parts[2]], int(parts[3]), int(parts[4])))
            elif kind == "M" and len(parts) == 4:
                oid = int(parts[1])
                cmds.append(("M", oid, oid, sides[parts[2]], int(parts[3])))
            elif kind == "C" and len(parts) == 2:
                cmds.append(("C", int(parts[1])))
            elif kind == "S" and len(parts) == 6:
                oid = int(parts[1])
                price = None if parts[4] == "-" else int(parts[4])
                cmds.append(("S", oid, oid, sides[parts[2]], int(parts[3]), price, int(parts[5])))
            elif kind == "A" and len(parts) == 4:
                qty = None if parts[2] == "-" else int(parts[2])
                cmds.append(("A", int(parts[1]), qty, None if parts[3] == "-" else int(parts[3])))
            else:
                raise ValueError("unknown command or wrong number of fields")
        except (KeyError, ValueError) as exc:
            raise ValueError(f"line {lineno}: {line.strip()!r}: {exc}") from None
    return cmds


def _calls(book: OrderBook, cmds: Sequence[Command]) -> list[tuple[Callable[..., list], tuple]]:
    submit = book.submit
    cancel = book.cancel
    amend = getattr(book, "amend", None)  # (absent from an older engine compared by A/B runs)
    calls: list[tuple[Callable[..., list], tuple]] = []
    append = calls.append
    for c in cmds:
        kind = c[0]
        if kind == "L":
            append((submit, (c[1], c[2], c[3], LIMIT, c[4], c[5])))
        elif kind == "M":
            append((submit, (c[1], c[2], c[3], MARKET, None, c[4])))
        elif kind == "S":
            stop_type = STOP_MARKET if c[5] is None else STOP_LIMIT
            append((submit, (c[1], c[2], c[3], stop_type, c[5], c[6], None, GTC, False, "cancel_taker", c[4])))
        elif kind == "A":
            append((amend, (c[1], c[2], c[3])))
        else:
            append((cancel, (c[1],)))
    return calls


def run(book: OrderBook, cmds: Sequence[Command], progress: bool = False) -> dict:
    """Feed ``cmds`` to ``book``; time only the engine calls."""
    calls = _calls(book, cmds)
    elapsed = 0.0
    cpu = 0.0
    trades = 0
    volume = 0
    triggered = 0
    last_report = time.monotonic()
    clock = time.perf_counter
    cpu_clock = time.process_time
    for start in range(0, len(calls), CHUNK):
        chunk = calls[start : start + CHUNK]
        results: list[list] = []
        keep = results.append
        c0 = cpu_clock()
        t0 = clock()
        for fn, args in chunk:
            keep(fn(*args))
        t1 = clock()
        cpu += cpu_clock() - c0
        elapsed += t1 - t0
        for events in results:  # untimed: consume the events
            for ev in events:
                if ev.__class__ is Trade:
                    trades += 1
                    volume += ev[3]
                elif ev.__class__ is Triggered:
                    triggered += 1
        if progress and time.monotonic() - last_report > PROGRESS_EVERY:
            last_report = time.monotonic()
            done = start + len(chunk)
            print(f"bench: {done}/{len(calls)} ops, {elapsed:.2f} s engine time", file=sys.stderr)
    ops = len(calls)
    return {
        "ops": ops,
        "trades": trades,
        "seconds": round(elapsed, 4),
        "ops_per_sec": round(ops / elapsed) if elapsed > 0 else None,
        "cpu_seconds": round(cpu, 4),
        "cpu_ops_per_sec": round(ops / cpu) if cpu > 0 else None,
        "volume": volume,
        "triggered": triggered,
    }


def preload(book: OrderBook, count: int, first_id: int, owners: int, seed: int) -> None:
    """Rest ``count`` orders far from the workload (2001..3000 ticks off the start mid).

    They sit on 1000 price levels per side; the random walk of a normal run
    rarely reaches them, so they stay resting.
    """
    rng = random.Random(seed ^ 0x5EED)
    randint = rng.randint
    submit = book.submit
    for i in range(count):
        offset = 2001 + i % 1000
        if i & 1:
            submit(first_id + i, randint(1, owners), SELL, LIMIT, START_MID + offset, randint(1, MAX_QTY))
        else:
            submit(first_id + i, randint(1, owners), BUY, LIMIT, START_MID - offset, randint(1, MAX_QTY))


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.engine.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=200_000, help="commands in the generated stream")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--owners", type=int, default=OWNERS, help="distinct owners in the generated stream")
    parser.add_argument("--resting", type=int, default=0, help="rest this many orders first and report peak_mb")
    parser.add_argument("--record", metavar="FILE", help="also write the generated stream to FILE")
    parser.add_argument("--replay", metavar="FILE", help="replay FILE instead of generating a stream")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, each on a fresh book; the best is reported")
    parser.add_argument("--mix", choices=sorted(MIXES), default="standard", help="workload mix (see docs/ENGINE.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    progress = not args.quiet
    if args.ops < 0 or args.resting < 0 or args.owners < 1 or args.repeat < 1:
        parser.error("--ops and --resting must be >= 0, --owners and --repeat >= 1")

    if args.replay:
        try:
            with open(args.replay) as f:
                cmds = parse_stream(f)
        except (OSError, ValueError) as exc:
            print(f"bench: cannot replay {args.replay}: {exc}", file=sys.stderr)
            return 2
    else:
        if progress and args.ops >= 100_000:
            print(f"bench: generating {args.ops} commands (seed {args.seed})", file=sys.stderr)
        cmds = generate(args.ops, args.seed, args.owners, progress, args.mix)
        if args.record:
            with open(args.record, "w") as f:
                write_stream(cmds, f)

    runs: list[dict] = []
    extra: dict = {}
    resting = 0
    for n in range(args.repeat):
        book = OrderBook()
        if args.resting:
            before = _rss_mb()
            t0 = time.perf_counter()
            preload(book, args.resting, first_id=len(cmds) + 1, owners=args.owners, seed=args.seed)
            extra["preload_seconds"] = round(time.perf_counter() - t0, 2)
            after = _rss_mb()
            if before is not None and after is not None:
                extra["preload_mb"] = round(after - before, 1)
            if progress:
                print(f"bench: {len(book)} orders resting before the run", file=sys.stderr)
        if progress and args.repeat > 1:
            print(f"bench: run {n + 1}/{args.repeat}", file=sys.stderr)
        runs.append(run(book, cmds, progress))
        resting = len(book)
        del book
        gc.collect()
    best = min(runs, key=lambda r: r["seconds"])
    assert all((r["trades"], r["volume"]) == (best["trades"], best["volume"]) for r in runs)
    out = {k: best[k] for k in ("ops", "trades", "seconds", "ops_per_sec")}
    best_cpu = min(runs, key=lambda r: r["cpu_seconds"])
    out["cpu_seconds"] = best_cpu["cpu_seconds"]
    out["cpu_ops_per_sec"] = best_cpu["cpu_ops_per_sec"]
    if args.replay:
        out["fills"] = best["trades"]
    out["volume"] = best["volume"]
    if args.mix != "standard" or best["triggered"]:
        out["triggered"] = best["triggered"]
    out["resting"] = resting
    out["repeat"] = args.repeat
    out["median_seconds"] = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    if not args.replay:
        out["seed"] = args.seed
        out["owners"] = args.owners
        if args.mix != "standard":
            out["mix"] = args.mix
    if args.resting:
        out["preloaded"] = args.resting
        out.update(extra)
        out["peak_mb"] = round(_peak_mb(), 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
