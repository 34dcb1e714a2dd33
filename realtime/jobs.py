"""What the event subscribers snapshot for the publisher thread (``realtime.subscribers``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from markets.models import Trade


@dataclass
class BatchJob:
    market_id: int
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    first_sequence: int
    sequence: int
    event_time: int
    trades: list[Trade]
    # Attribute snapshots: the matcher keeps mutating its Order objects in later batches.
    orders: list[dict[str, Any]]
    bids: dict[int, int]
    asks: dict[int, int]


@dataclass
class SettlementJob:
    market_id: int
    event_time: int
    trades: list[Trade]
    wallet_ids: list[int]


@dataclass
class PrivateJob:
    """A trader's own change made outside the matcher: a new order, changed wallets."""

    event_time: int
    orders: list[dict[str, Any]] = field(default_factory=list)
    wallet_ids: list[int] = field(default_factory=list)


JOBS = (BatchJob, SettlementJob, PrivateJob)


def market_ids_of(jobs: list) -> set[int]:
    return {job.market_id for job in jobs if not isinstance(job, PrivateJob)}
