"""Binance's market-data WebSocket: raw ``/ws``, ``/ws/<streams>`` and combined ``/stream?streams=a/b``.

Live ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and
``GET_PROPERTY`` requests are answered as Binance answers them (``{"result": ...,
"id": ...}`` or ``{"error": {"code", "msg"}, "id": ...}``). The events come from the
process's stream hub (``binance_api.stream_hub``), encoded once per stream; this
consumer reuses the ``/ws/v1/`` consumer's socket writing (write rounds, the bound on
what waits for a slow reader, the 4008 close).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from realtime.consumers import MAX_MESSAGE_CHARS, ExchangeConsumer
from realtime.hub import log_layer_error

from .stream_hub import stream_hub
from .streams import StreamSpec, markets_for, stream_parse

MAX_STREAMS = 1024
# Binance: 5 incoming messages a second, beyond which the connection is closed.
RATE_PER_SECOND = 5.0
RATE_BURST = 10.0
# Closed for going over the message rate (daphne's autobahn sends only 1000 or 3000-4999).
TOO_MANY_MESSAGES = 4029
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
ID_MAX = 2**63 - 1


class RequestError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return -ID_MAX - 1 <= value <= ID_MAX
    return isinstance(value, str) and 0 < len(value) <= 36 and value.isascii() and value.isalnum()


@database_sync_to_async
def _resolve(names: list[str]) -> dict[str, tuple[StreamSpec, Any]]:
    """The names that are streams of existing markets: name -> (spec, market)."""
    specs = {name: spec for name in names if (spec := stream_parse(name)) is not None}
    markets = markets_for(sorted({spec.symbol for spec in specs.values()}))
    return {name: (spec, markets[spec.symbol]) for name, spec in specs.items() if spec.symbol in markets}


class BinanceStreamConsumer(ExchangeConsumer):
    async def connect(self) -> None:
        self.streams: dict[str, StreamSpec] = {}
        self.combined = self.scope["path"].lstrip("/").startswith("stream")
        self.b_allowance = RATE_BURST
        self.b_allowance_at = time.monotonic()
        await super().connect()
        names = self._initial_names()
        if names:
            # As Binance does: names in the URL that are no stream are ignored (ccxt opens ``/ws/0``).
            found = await _resolve(names[:MAX_STREAMS])
            try:
                for name in names[:MAX_STREAMS]:
                    if name in found:
                        await self._add(*found[name])
            except RequestError as exc:
                await self._send({"error": {"code": exc.code, "msg": exc.msg}, "id": None})

    def _initial_names(self) -> list[str]:
        if self.combined:
            query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
            raw = query.get("streams", [""])[0]
        else:
            raw = self.scope["url_route"]["kwargs"].get("names") or ""
        return list(dict.fromkeys(n for n in raw.split("/") if n))

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        hub = stream_hub()
        for name in list(self.streams):
            await hub.remove(self, name)
        self.streams = {}

    async def _add(self, spec: StreamSpec, market: Any) -> None:
        if spec.name in self.streams:
            return
        try:
            await stream_hub().add(self, spec, market)
        except Exception as exc:  # noqa: BLE001 - the channel layer (Redis) is down
            log_layer_error(exc)
            raise RequestError(-1, "Subscriptions are unavailable right now; try again shortly.") from None
        self.streams[spec.name] = spec

    # -- client requests ----------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.dropped:
            return
        if not self._b_allow():
            self.dropped = True
            await self.close(code=TOO_MANY_MESSAGES)
            return
        request_id: Any = None
        try:
            message = self._decode(text_data)
            if "id" not in message or not _valid_id(message["id"]):
                raise RequestError(2, "Invalid request: request ID must be an unsigned integer")
            request_id = message["id"]
            result = await self._handle(message)
            await self._send({"result": result, "id": request_id})
        except RequestError as exc:
            await self._send({"error": {"code": exc.code, "msg": exc.msg}, "id": request_id})

    def _b_allow(self) -> bool:
        now = time.monotonic()
        self.b_allowance = min(RATE_BURST, self.b_allowance + (now - self.b_allowance_at) * RATE_PER_SECOND)
        self.b_allowance_at = now
        if self.b_allowance < 1:
            return False
        self.b_allowance -= 1
        return True

    @staticmethod
    def _decode(text: str | None) -> dict[str, Any]:
        if text is None:
            raise RequestError(3, "Invalid JSON: send JSON in text frames")
        if len(text) > MAX_MESSAGE_CHARS:
            raise RequestError(2, f"Invalid request: messages are limited to {MAX_MESSAGE_CHARS} characters")
        try:
            message = json.loads(text)
        except ValueError as exc:
            detail = getattr(exc, "msg", "invalid JSON").lower()
            raise RequestError(
                3, f"Invalid JSON: {detail} at line {getattr(exc, 'lineno', 1)} column {getattr(exc, 'colno', 1)}"
            ) from None
        if not isinstance(message, dict):
            raise RequestError(3, "Invalid JSON: expected a JSON object")
        return message

    async def _handle(self, message: dict[str, Any]) -> Any:
        method = message.get("method")
        if "method" not in message:
            raise RequestError(2, "Invalid request: missing field `method`")
        if method not in METHODS:
            raise RequestError(
                2,
                f"Invalid request: unknown variant `{method}`, expected one of " + ", ".join(f"`{m}`" for m in METHODS),
            )
        if set(message) - {"method", "params", "id"}:
            raise RequestError(2, "Invalid request: too many parameters")
        params = message.get("params")
        if method == "LIST_SUBSCRIPTIONS":
            if params not in (None, []):
                raise RequestError(2, "Invalid request: too many parameters")
            return list(self.streams)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params)
        if not isinstance(params, list) or not params:
            raise RequestError(2, "Invalid request: params must be a non-empty array of stream names")
        if method == "UNSUBSCRIBE":
            hub = stream_hub()
            for name in params:
                if stream_parse(name) is None:
                    raise RequestError(2, "Invalid request: invalid stream")
            for name in dict.fromkeys(params):
                if self.streams.pop(name, None) is not None:
                    await hub.remove(self, name)
            return None
        return await self._subscribe(params)

    async def _subscribe(self, params: list[Any]) -> None:
        names = list(dict.fromkeys(params))
        # All or nothing: every name must be a stream of one of our markets.
        if not all(isinstance(name, str) and stream_parse(name) is not None for name in names):
            raise RequestError(2, "Invalid request: invalid stream")
        found = await _resolve(names)
        if len(found) != len(names):
            raise RequestError(2, "Invalid request: invalid stream")
        if len(self.streams.keys() | set(names)) > MAX_STREAMS:
            raise RequestError(2, f"Invalid request: a connection may listen to at most {MAX_STREAMS} streams")
        added = []
        try:
            for name in names:
                if name not in self.streams:
                    await self._add(*found[name])
                    added.append(name)
        except RequestError:
            for name in added:  # all or nothing
                del self.streams[name]
                await stream_hub().remove(self, name)
            raise
        return None

    def _property(self, method: str, params: Any) -> Any:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            raise RequestError(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            raise RequestError(0, "Unknown property")
        if method == "GET_PROPERTY":
            if len(params) != 1:
                raise RequestError(2, "Invalid request: too many parameters")
            return self.combined
        if len(params) != 2:
            raise RequestError(2, "Invalid request: too many parameters")
        if not isinstance(params[1], bool):
            raise RequestError(1, "Invalid value type: expected Boolean")
        self.combined = params[1]
        return None
