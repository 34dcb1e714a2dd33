"""The simulated traders: random orders of every kind over the REST API, and what they saw."""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from accounts.models import User
from tools.soak.setup import LOT, PRICE, RETRIES, TICK, access_token

# One line per request would drown the progress lines.
logging.getLogger("httpx").setLevel(logging.WARNING)


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
