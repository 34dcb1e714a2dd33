"""``bench_ws --feed direct``: orders written straight into the database, not through REST.

On a small shared box the REST tier cannot take 100 orders a second next to the
matcher, PostgreSQL and a thousand subscriber sockets (it fed 44-48/s), so the
WebSocket figures were measured at half the asked flow. This feed skips HTTP: every
tick it places the orders due since the last one with ``orders_place_bulk`` (the
service ``bench_pipeline`` seeds with: validation, locks with their ledger entries,
and the ``OrdersChanged`` wake-up of the matcher after commit), so the matcher,
settlement, the publisher and the ws processes see the asked rate. Limit orders only
(no market orders or cancels), priced like ``tools.restfeeder``'s: buys a little
above the mid and sells a little below, so about half of them trade at once. The
latency the bench measures does not change: from each trade's commit
(``event_time``) to its arrival.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from tools.restfeeder import MID_TICKS, SPREAD_TICKS, price

TICK_SECONDS = 0.02


def direct_orders(rng: random.Random, user_ids: list[int], count: int) -> list[tuple[int, str, Decimal, Decimal]]:
    """``count`` limit orders ``(user_id, side, price, quantity)`` around the mid, half of them crossing."""
    out = []
    for _ in range(count):
        side = rng.choice(("buy", "sell"))
        offset = rng.randint(-SPREAD_TICKS, SPREAD_TICKS)
        ticks = MID_TICKS + offset if side == "buy" else MID_TICKS - offset
        out.append((rng.choice(user_ids), side, Decimal(price(ticks)), Decimal(rng.randint(1, 50)) / 1000))
    return out


def direct_feed(market: Any, user_ids: list[int], rate: float, seconds: float, log: Any) -> dict[str, Any]:
    """Place ``rate`` orders a second for ``seconds`` in this process; a report shaped like the REST feeder's."""
    from trading.services import orders_place_bulk

    rng = random.Random(0)
    total = int(rate * seconds)
    placed = 0
    late_ms: list[float] = []
    took_ms: list[float] = []
    start = time.monotonic()
    next_log = 1.0
    while placed < total:
        elapsed = time.monotonic() - start
        due = min(total, int(elapsed * rate) + 1)
        if due > placed:
            late_ms.append(max(0.0, elapsed - placed / rate) * 1000)
            began = time.monotonic()
            orders_place_bulk(market=market, orders=direct_orders(rng, user_ids, due - placed))
            took_ms.append((time.monotonic() - began) * 1000)
            placed = due
        if elapsed >= next_log:
            log(f"{elapsed:.0f} s ({placed} orders)")
            next_log += 1.0
        pause = start + (placed / rate) - time.monotonic()
        time.sleep(max(TICK_SECONDS, pause) if placed < total else 0)
    wall = time.monotonic() - start
    late = sorted(late_ms) or [0.0]
    took = sorted(took_ms) or [0.0]
    return {
        "statuses": {"direct 201": placed},
        "due": total,
        "sent": placed,
        "errors": 0,
        "elapsed": max(seconds, wall),
        "wall": wall,
        "late_ms_p50_p99": [round(late[len(late) // 2], 1), round(late[int(len(late) * 0.99)], 1)],
        # No answers here: how long each bulk placement (one transaction) took.
        "answer_ms_p50_p99": [round(took[len(took) // 2], 1), round(took[int(len(took) * 0.99)], 1)],
    }
