"""A Binance market-stream client for the live tests, and the local order book of Binance's recipe."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import httpx

from tests.ws.helpers import WsClient

_ids = itertools.count(1000)  # apart from the ids the tests choose


def binance_ws(stack, path: str) -> str:
    """``path`` (``/ws``, ``/ws/btcusdt@trade``, ``/stream?streams=...``) on the stack's ws process."""
    return f"ws://127.0.0.1:{stack.harness.port('ws')}{path}"


class StreamClient(WsClient):
    """Binance's requests and replies (``{"result" | "error", "id"}``) over a real WebSocket."""

    def call(self, method: str, params: Any = None, *, request_id: Any = None, timeout: float = 15) -> dict:
        request_id = next(_ids) if request_id is None else request_id
        message: dict[str, Any] = {"method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.answer(request_id, timeout)

    def answer(self, request_id: Any, timeout: float = 15) -> dict:
        return self.wait(
            lambda: next((m for m in self.messages if _is_reply(m) and m["id"] == request_id), None),
            timeout,
            f"the answer to {request_id}",
        )

    def last_reply(self, timeout: float = 15, *, after: int = 0) -> dict:
        """The first reply after the first ``after`` replies (for requests without a usable id)."""
        return self.wait(lambda: ([m for m in self.messages if _is_reply(m)][after:] or [None])[0], timeout, "a reply")

    def replies(self) -> list[dict]:
        with self._cond:
            return [m for m in self.messages if _is_reply(m)]

    def payloads(self, event: str, stream: str | None = None) -> list[dict]:
        """Raw events of type ``event`` (combined ones unwrapped, optionally of one stream only)."""
        with self._cond:
            found = []
            for m in self.messages:
                data = m.get("data") if "stream" in m else m
                if isinstance(data, dict) and data.get("e") == event and (stream is None or m.get("stream") == stream):
                    found.append(data)
            return found


def _is_reply(message: dict) -> bool:
    return "id" in message and ("result" in message or "error" in message)


class BinanceBook:
    """The client side of Binance's "how to manage a local order book correctly"."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.update_id = snapshot["lastUpdateId"]
        self.bids = {p: q for p, q in snapshot["bids"]}
        self.asks = {p: q for p, q in snapshot["asks"]}
        self.applied = 0

    def apply(self, event: dict[str, Any]) -> None:
        if event["u"] <= self.update_id:
            return  # older than the book
        if self.applied == 0:
            assert event["U"] <= self.update_id + 1 <= event["u"], f"first event misses {self.update_id}: {event}"
        else:
            assert event["U"] == self.update_id + 1, f"missed events after {self.update_id}: {event}"
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = event["u"]
        self.applied += 1

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        bids = sorted(([p, q] for p, q in self.bids.items()), key=lambda lv: Decimal(lv[0]), reverse=True)
        asks = sorted(([p, q] for p, q in self.asks.items()), key=lambda lv: Decimal(lv[0]))
        return bids, asks


def v3(stack, path: str, **params: Any) -> Any:
    resp = httpx.get(f"{stack.url}/api/v3/{path}", params=params, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()
