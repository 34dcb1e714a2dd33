"""What the real-time channels send, rendered once per event.

Channel-layer groups, the JSON of one server event (``frame``), the unmasked
WebSocket frame bytes written to every subscribed socket (``ws_frame``), and the
renderings shared by the publisher and its tests.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from markets.candles import EPOCH
from markets.models import Order
from trading.serializers import order_out

PUBLIC_KINDS = ("trades", "depth", "ticker")
PRIVATE_CHANNELS = ("orders", "fills", "balances")
# The channel-layer message type (read by the hub, ``realtime.hub``).
FRAMES = "ws.frames"

ORDER_ATTNAMES = [f.attname for f in Order._meta.concrete_fields]


def public_group(kind: str, market_id: int) -> str:
    # A group per channel, not per market: daphne processes only get what their
    # sockets subscribed (most batches change depth without trading).
    return f"md.{kind}.{market_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def batch_key(channel: str) -> str:
    """The frames key of a channel's batched frames (``"batch": true`` subscribers get those instead)."""
    return f"{channel}#batch"


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def frame(channel: str, event_time: int, data: dict[str, Any] | list[dict[str, Any]]) -> str:
    """One server event exactly as sent on the socket."""
    return json.dumps({"channel": channel, "event_time": event_time, "data": data}, separators=(",", ":"))


def frame_of_json(channel: str, event_time: int, data_json: str) -> str:
    """``frame`` with its ``data`` already rendered (compact JSON): what is sent several times is encoded once."""
    return f'{{"channel":{json.dumps(channel)},"event_time":{int(event_time)},"data":{data_json}}}'


# -- jobs: what the hooks snapshot ------------------------------------------------


def ws_frame(text: str) -> bytes:
    """One unmasked server text frame (RFC 6455 5.2), built once and written to many sockets."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def order_version(updated_at: datetime) -> int:
    """An order state's version for the sockets: its ``updated_at`` in epoch microseconds."""
    delta = updated_at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def order_data(values: dict[str, Any], symbol: str) -> dict[str, Any]:
    """What ``OrderOut`` renders for an order, from its attribute snapshot (the matcher keeps changing the object)."""
    return order_out(SimpleNamespace(**values), symbol)


def order_values(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in ORDER_ATTNAMES}


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) of a non-empty list, for the latency lines in the logs."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]
