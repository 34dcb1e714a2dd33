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
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from accounts.models import User
from tools.soak.setup import LOT, PRICE, RETRIES, TICK, access_token

# One line per request would drown the progress lines.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class Tally:
    """What the traders saw, shared by their threads."""

    accepted: dict[int, str] = field(default_factory=dict)  # order id -> kind placed
    order_lists: dict[int, list[int]] = field(default_factory=dict)  # OCO list id -> its legs' ids
    amends: Counter[int] = field(default_factory=Counter)  # order id -> amends requested
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
        self.my_lists: list[int] = []
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
        if roll < 0.16 and self.mine:
            self.cancel_one()
        elif roll < 0.18:
            self.request("DELETE", f"/api/v1/orders?market={self.symbol}")
        elif roll < 0.22 and self.mine:
            self.request("GET", f"/api/v1/orders/{self.rng.choice(self.mine)}")
        elif roll < 0.24:
            self.request("GET", f"/api/v1/markets/{self.symbol}/depth?limit=20")
        elif roll < 0.32:
            self.amend_one()
        elif roll < 0.34 and self.my_lists:
            self.request("DELETE", f"/api/v1/order-lists/{self.my_lists.pop(self.rng.randrange(len(self.my_lists)))}")
        elif roll < 0.38:
            self.place_oco()
        else:
            self.place()

    def amend_one(self) -> None:
        """Lower the quantity (keeps priority) or move the price (loses it) of one of my resting orders."""
        # Ask which of my orders rest, as a trader would (a closed or queued one answers 409).
        seen = self.request("GET", f"/api/v1/orders?market={self.symbol}&status=open&limit=50")
        if seen is None or seen.status_code != 200:
            return
        resting = [
            o["id"]
            for o in seen.json()["results"]
            # A leg of an active OCO pair cannot be amended (409): left alone.
            if o["status"] in ("open", "partially_filled")
            and o["type"] in ("limit", "stop_limit")
            and o["order_list_id"] is None
        ]
        if not resting:
            return
        order_id = self.rng.choice(resting)
        if self.rng.random() < 0.6:
            body = {"quantity": str(LOT * self.rng.randint(5, 300))}
        else:
            body = {"price": str(PRICE + TICK * self.rng.randint(-60, 60))}
        with self.tally.lock:
            self.tally.amends[order_id] += 1
        self.request("PATCH", f"/api/v1/orders/{order_id}", json=body)

    def place_oco(self) -> None:
        """A limit leg on the far side of the mid and a stop leg on the near side, one lock."""
        rng = self.rng
        side = rng.choice(["buy", "sell"])
        away = Decimal(1 if side == "sell" else -1)
        price = PRICE + away * TICK * rng.randint(5, 60)
        stop_price = PRICE - away * TICK * rng.randint(5, 60)
        body: dict[str, object] = {
            "market": self.symbol,
            "side": side,
            "quantity": str(LOT * rng.randint(10, 500)),
            "price": str(price),
            "stop_price": str(stop_price),
        }
        kind = "oco_stop_market"
        if rng.random() < 0.7:
            body["stop_limit_price"] = str(stop_price - away * TICK * rng.randint(0, 10))
            kind = "oco_stop_limit"
        self.sent += 1
        body["client_order_id"] = f"soak-{self.index}-{self.sent}"
        resp = self.post_retried("/api/v1/order-lists/oco", body)
        if resp is not None and resp.status_code in (200, 201):
            answer = resp.json()
            legs = [o["id"] for o in answer["orders"]]
            with self.tally.lock:
                self.tally.order_lists[answer["id"]] = legs
                self.tally.accepted[legs[0]] = "oco_limit"
                for leg in legs[1:]:
                    self.tally.accepted[leg] = kind
            self.my_lists.append(answer["id"])
            if len(self.my_lists) > 50:
                self.my_lists.pop(0)

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
            ["limit", "post_only", "ioc", "fok", "market", "stop_limit", "stop_market", "gtd"],
            weights=[40, 10, 12, 8, 15, 8, 4, 8],
        )[0]
        if kind in ("stop_limit", "stop_market"):
            self._stop_body(body, kind, side, quantity)
        elif kind == "market":
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
            elif kind == "gtd":
                expire = datetime.now(UTC) + timedelta(seconds=rng.uniform(1, 15))
                body.update(time_in_force="GTD", expire_time=expire.isoformat())
        self.sent += 1
        body["client_order_id"] = f"soak-{self.index}-{self.sent}"
        started = time.monotonic()
        resp = self.post_retried("/api/v1/orders", body)
        if resp is not None and resp.status_code in (200, 201):
            order_id = resp.json()["id"]
            with self.tally.lock:
                self.tally.accepted[order_id] = kind
                self.tally.place_latencies.append(time.monotonic() - started)
            if kind in ("limit", "post_only", "gtd", "stop_limit"):
                self.mine.append(order_id)
                if len(self.mine) > 200:
                    self.mine.pop(0)

    def _stop_body(self, body: dict[str, object], kind: str, side: str, quantity: Decimal) -> None:
        """A stop above the mid for a buy, below for a sell; some accepted even if they trigger at once."""
        rng = self.rng
        toward = Decimal(1 if side == "buy" else -1)
        stop_price = PRICE + toward * TICK * rng.randint(5, 70)
        body.update(type=kind, stop_price=str(stop_price), trigger_immediately=rng.random() < 0.3)
        if kind == "stop_limit":
            body.update(price=str(stop_price + toward * TICK * rng.randint(0, 20)), quantity=str(quantity))
        elif side == "buy":
            body["quote_quantity"] = str((PRICE * quantity).quantize(TICK))
        else:
            body["quantity"] = str(quantity)

    def post_retried(self, path: str, body: dict[str, object]) -> httpx.Response | None:
        resp = self.request("POST", path, json=body)
        for _ in range(RETRIES):
            if resp is not None:
                break
            # The answer was lost: ask again with the same client_order_id (idempotent),
            # which answers 200 with the order if the first attempt did place it.
            time.sleep(0.5)
            resp = self.request("POST", path, json=body)
        return resp

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
