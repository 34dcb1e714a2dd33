"""A real WebSocket client for the tests, a local order book kept by the sync recipe, and tokens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import jwt
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class WsClient:
    """A WebSocket connection whose messages a reader thread keeps, in arrival order."""

    def __init__(self, url: str) -> None:
        self.conn = connect(url, open_timeout=10, max_size=None, compression=None, legacy=True)
        self.messages: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.closed = False
        self._cond = threading.Condition()
        self._ops_seen = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.conn:
                message = json.loads(raw)
                with self._cond:
                    self.messages.append(message)
                    self.arrivals.append(time.time())
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def send(self, message: Any) -> None:
        self.conn.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def wait(self, predicate: Callable[[], Any], timeout: float = 15, what: str = "a condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise AssertionError(f"timed out waiting for {what}; last messages: {self.messages[-5:]}")
                self._cond.wait(remaining)

    def reply(self, timeout: float = 15) -> dict[str, Any]:
        """The next answer (a message with an ``op``) after the ones already returned."""

        def find():
            ops = [m for m in self.messages if "op" in m]
            return ops[self._ops_seen] if len(ops) > self._ops_seen else None

        message = self.wait(find, timeout, "a reply")
        self._ops_seen += 1
        return message

    def request(self, message: Any, timeout: float = 15) -> dict[str, Any]:
        self.send(message)
        return self.reply(timeout)

    def events(self, channel: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m.get("channel") == channel]

    def data(self, channel: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.events(channel)]

    def close(self) -> None:
        self.conn.close()
        self._reader.join(timeout=5)


class LocalBook:
    """The client side of API.md's depth recipe: snapshot, then diffs in sequence order."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.sequence = snapshot["sequence"]
        self.bids = {p: q for p, q in snapshot["bids"]}
        self.asks = {p: q for p, q in snapshot["asks"]}
        self.applied = 0

    def apply(self, diff: dict[str, Any]) -> bool:
        """Apply one diff; False when it is older than the book. A gap is an assertion error."""
        if diff["sequence"] <= self.sequence:
            return False
        if self.applied == 0:
            assert diff["first_sequence"] <= self.sequence + 1, f"gap after the snapshot {self.sequence}: {diff}"
        else:
            assert diff["first_sequence"] == self.sequence + 1, f"chain broken after {self.sequence}: {diff}"
        for side, levels in ((self.bids, diff["bids"]), (self.asks, diff["asks"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.sequence = diff["sequence"]
        self.applied += 1
        return True

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        bids = sorted(([p, q] for p, q in self.bids.items()), key=lambda lv: Decimal(lv[0]), reverse=True)
        asks = sorted(([p, q] for p, q in self.asks.items()), key=lambda lv: Decimal(lv[0]))
        return bids, asks


def access_token(user) -> str:
    return str(AccessToken.for_user(user))


def expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


def forged_token(user) -> str:
    """A well-formed access token for ``user`` signed with a key the server does not have."""
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, "not-the-server-secret-key-at-all-0123456789", algorithm="HS256")


def refresh_token(user) -> str:
    return str(RefreshToken.for_user(user))
