"""Domain events: writers announce what they committed, readers subscribe.

The ground floor between the apps. A writer (order placement, the matcher,
settlement, the wallet service, the market operations) announces a typed event once
its transaction committed; a reader (the real-time pushes, the matcher's wake-up,
the market-data cache) subscribes in its own ``AppConfig.ready()``. Writers never
import their readers, so the apps keep their layer order and a reader of
``order_place`` sees exactly what it announces: ``announce_on_commit(OrderPlaced(...))``.

Nothing is announced before commit: ``announce_on_commit`` hands the announcement
to ``transaction.on_commit`` (dropped with a rollback); ``announce`` is for code that
runs after its own commit already (the matcher's loop). A failing subscriber is
logged and never stops the others or the writer: every effect announced here
(pushes, wake-ups, cache writes) has a periodic safety net.

Subscribers of one event run in ``Stage`` order, then in subscription order:
``PREPARE`` builds in-process state that the pushes read, ``PUSH`` hands events to
the clients, ``REACT`` does the rest (wake-ups, cache writes). It is all cheap: an
announcement with no subscriber costs a dict lookup and registers nothing.

This module imports no app: events carry model instances typed ``Any`` (their
classes are named in each docstring).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


class Stage(IntEnum):
    PREPARE = 0
    PUSH = 1
    REACT = 2


@dataclass(frozen=True, slots=True)
class BatchCommitted:
    """The matcher committed one batch of a market (announced by ``matching.runner``).

    ``market`` is a ``markets.models.Market``; ``trades`` and ``orders`` the ``Trade``
    rows it created and the ``Order`` objects it changed (the matcher keeps mutating
    those in later batches: snapshot what you keep). ``depth_bids``/``depth_asks`` map
    price steps to the new quantity in lot steps (0: the level is gone); ``book_bids``
    /``book_asks`` are the committed book, formatted, best first.
    """

    market: Any
    first_sequence: int
    sequence: int
    committed_at: datetime
    trades: list[Any] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)
    depth_bids: dict[int, int] = field(default_factory=dict)
    depth_asks: dict[int, int] = field(default_factory=dict)
    book_bids: list[list[str]] = field(default_factory=list)
    book_asks: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TradesSettled:
    """Settlement booked a range of a market's sequences (``wallets.settlement``).

    ``trades`` are the ``Trade`` rows settled; ``wallet_ids`` the wallets it changed
    (the wallet service does not announce those separately).
    """

    market_id: int
    from_sequence: int
    to_sequence: int
    trades: list[Any]
    wallet_ids: list[int]


@dataclass(frozen=True, slots=True)
class WalletsChanged:
    """One transaction changed these wallets (``wallets.services``; once per transaction)."""

    wallet_ids: list[int]


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """A new order was committed, its funds locked (``order_place``); ``order`` is an ``Order``."""

    order: Any


@dataclass(frozen=True, slots=True)
class OrdersChanged:
    """Orders of one market changed outside the matcher: cancel requests, a bulk placement."""

    market_id: int


@dataclass(frozen=True, slots=True)
class MarketChanged:
    """A market's status changed in a way that gives the matcher work: resumed, or halted with its queue canceled."""

    market_id: int


class NoticeKind(StrEnum):
    """What a trader is told by email (``NoticeDue``)."""

    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    WITHDRAWAL_APPROVED = "withdrawal_approved"
    WITHDRAWAL_SENT = "withdrawal_sent"
    WITHDRAWAL_REJECTED = "withdrawal_rejected"
    WHITELIST_ADDRESS_ADDED = "whitelist_address_added"
    TWO_FACTOR_CHANGED = "two_factor_changed"
    ACCOUNT_FROZEN = "account_frozen"
    PASSWORD_CHANGED = "password_changed"


@dataclass(frozen=True, slots=True)
class NoticeDue:
    """Something happened that the account's owner must hear about (announced on commit).

    ``details`` holds only JSON-able values (strings, numbers as strings); the reader
    sends the email from a Celery task, so the announcing request never waits on SMTP.
    """

    user_id: int
    kind: NoticeKind
    details: dict[str, str] = field(default_factory=dict)


Event = BatchCommitted | TradesSettled | WalletsChanged | OrderPlaced | OrdersChanged | MarketChanged | NoticeDue
E = TypeVar("E", bound=Event)

# event class -> its subscribers in stage order (rebuilt on each subscribe: rare)
_subscribers: dict[type, tuple[Callable[[Any], None], ...]] = {}
_staged: dict[type, list[tuple[Stage, int, Callable[[Any], None]]]] = {}


def subscribe(event_type: type[E], handler: Callable[[E], None], *, stage: Stage = Stage.REACT) -> None:
    """Call ``handler(event)`` for each announced ``event_type`` (idempotent)."""
    staged = _staged.setdefault(event_type, [])
    if any(h == handler for _, _, h in staged):
        return
    staged.append((stage, len(staged), handler))
    staged.sort(key=lambda item: item[:2])
    _subscribers[event_type] = tuple(h for _, _, h in staged)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Stop calling ``handler`` (tests)."""
    staged = [item for item in _staged.get(event_type, []) if item[2] != handler]
    _staged[event_type] = staged
    _subscribers[event_type] = tuple(h for _, _, h in staged)


def subscribed(event_type: type) -> bool:
    """Whether anyone listens: lets a writer skip collecting what nobody reads."""
    return bool(_subscribers.get(event_type))


def announce(event: Event) -> None:
    """Tell the subscribers now; only for code past its own commit (see the module docstring)."""
    for handler in _subscribers.get(type(event), ()):
        try:
            handler(event)
        except Exception:
            logger.exception("subscriber %r of %s failed", handler, type(event).__name__)


def announce_on_commit(event: Event) -> None:
    """Announce once the surrounding transaction commits; never if it rolls back."""
    if _subscribers.get(type(event)):
        transaction.on_commit(lambda: announce(event), robust=False)
