"""What the real-time channels send, rendered once per event.

Channel-layer groups, the JSON of one server event (``frame``), the unmasked
WebSocket frame bytes written to every subscribed socket (``ws_frame``), and the
renderings shared by the publisher and its tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange_site.money import fmt, q
from markets.candles import EPOCH
from markets.models import Order

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


def iso_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_version(updated_at: datetime) -> int:
    """An order state's version for the sockets: its ``updated_at`` in epoch microseconds."""
    delta = updated_at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def order_data(values: dict[str, Any], symbol: str) -> dict[str, Any]:
    """What ``OrderOut`` renders for an order, from its attribute snapshot.

    The publisher renders every order a batch changed; through the DRF serializer that
    cost more than matching the order (a test keeps the two outputs identical).
    """
    filled_quantity, filled_quote = values["filled_quantity"], values["filled_quote"]
    return {
        "id": values["id"],
        "client_order_id": values["client_order_id"],
        "market": symbol,
        "side": values["side"],
        "type": values["type"],
        "time_in_force": values["time_in_force"],
        "post_only": bool(values["post_only"]),
        "self_trade_prevention": values["self_trade_prevention"],
        "price": None if values["price"] is None else fmt(values["price"]),
        "quantity": None if values["quantity"] is None else fmt(values["quantity"]),
        "quote_quantity": None if values["quote_quantity"] is None else fmt(values["quote_quantity"]),
        "filled_quantity": fmt(filled_quantity),
        "filled_quote": fmt(filled_quote),
        "average_price": fmt(q(filled_quote / filled_quantity)) if filled_quantity else None,
        "status": values["status"],
        "reject_reason": values["reject_reason"],
        "cancel_reason": values["cancel_reason"],
        "created_at": iso_time(values["created_at"]),
        "updated_at": iso_time(values["updated_at"]),
    }


def order_values(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in ORDER_ATTNAMES}


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) of a non-empty list, for the latency lines in the logs."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]
