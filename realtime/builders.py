"""The publisher's frame building: trades, merged depth diffs, tickers, orders, fills, balances.

``FrameBuilder`` keeps the per-market state between rounds (the depth chains and
the trades waiting for a batched frame); ``realtime.publisher.Publisher`` runs it
in its thread and sends what it builds.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from exchange_site.api import iso_time
from exchange_site.money import fmt, from_steps
from markets.models import Currency, Market
from markets.selectors import ticker_get
from matching.market_data import ticker_latest
from trading.serializers import fill_for
from wallets.models import Wallet

from .frames import (
    FRAMES,
    batch_key,
    epoch_ms,
    frame,
    frame_of_json,
    order_data,
    order_version,
    public_group,
    user_group,
)
from .jobs import BatchJob, SettlementJob
from .presence import users_present

# Depth diffs of a market are sent at most once per interval (the batches in between
# merge into one diff), and trades batched for the clients that asked for it go out
# once per interval. 0 sends every round's diff and batch at once.
DEPTH_FLUSH_SECONDS = float(os.environ.get("WS_DEPTH_FLUSH_MS", "100")) / 1000
TRADES_BATCH_SECONDS = float(os.environ.get("WS_TRADES_BATCH_MS", "100")) / 1000
# How many order ids the publisher remembers from the matcher's batches (see _order_frames).
MATCHED_ORDERS_REMEMBERED = 10_000
# How many wallets' owners the publisher remembers (a wallet never changes owner).
WALLET_OWNERS_REMEMBERED = 100_000


@dataclass
class _DepthChain:
    """Per market: the last batch seen and the first sequence the next diff must cover."""

    last_sequence: int
    next_first: int
    tick_size: Decimal
    lot_size: Decimal
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    event_time: int = 0
    # monotonic time before which no new diff is sent (the levels keep merging)
    hold_until: float = 0.0


@dataclass
class _TradeBatch:
    """Per market: the trades waiting for the next batched frame."""

    symbol: str
    # Each trade's ``data`` as JSON, already rendered for its own frame.
    trades: list[str] = field(default_factory=list)
    event_time: int = 0
    hold_until: float = 0.0


class FrameBuilder:
    """Builds the messages of a round: ``(group, channel-layer message)`` pairs."""

    def __init__(self) -> None:
        self._chains: dict[int, _DepthChain] = {}
        self._trade_batches: dict[int, _TradeBatch] = {}
        # The last ticker sent per market (a new dict per batch from the matcher).
        self._tickers: dict[int, dict[str, Any]] = {}
        self._markets: dict[int, Market] = {}
        self._currency_codes: dict[int, str] = {}
        # Orders this process published from matcher batches, oldest first (bounded).
        self._matched_orders: dict[int, None] = {}
        self._wallet_owners: dict[int, int] = {}

    def _break(self, market_ids: set[int]) -> None:
        for market_id in market_ids:
            self._chains.pop(market_id, None)
            self._tickers.pop(market_id, None)
            self._trade_batches.pop(market_id, None)

    # -- building frames ----------------------------------------------------------
    def _build_market_data(self, jobs: list) -> list[tuple[str, dict]]:
        """Trades and depth diffs of the round's batches, in matcher order."""
        groups: dict[str, list[list[str]]] = {}
        markets: list[int] = []
        for job in jobs:
            if isinstance(job, BatchJob):
                self._trade_frames(job, groups)
                self._depth_merge(job)
                if job.market_id not in markets:
                    markets.append(job.market_id)
        # Also the other markets' held diffs and batches that are due by now.
        for market_id in dict.fromkeys([*markets, *self._chains, *self._trade_batches]):
            self._trade_batch_frame(market_id, groups)
            self._depth_frame(market_id, groups)
        return self._public_messages(groups)

    def _build_updates(self, jobs: list) -> list[tuple[str, dict]]:
        """Tickers, then the orders, fills and balances of every present user (``realtime.presence``)."""
        groups: dict[str, list[list[str]]] = {}
        private: dict[int, list[list[str]]] = {}
        batch_times: dict[int, int] = {}
        # Each wallet once per round, read after every job of the round committed.
        wallet_times: dict[int, int] = {}
        present = self._present(jobs)
        for job in jobs:
            if isinstance(job, BatchJob):
                self._order_frames(job.orders, job.event_time, private, present, matched=True)
                batch_times[job.market_id] = job.event_time
                continue
            if isinstance(job, SettlementJob):
                if present:
                    self._fill_frames(job, private, present)
            else:
                self._order_frames(job.orders, job.event_time, private, present, matched=False)
            for wallet_id in job.wallet_ids:
                if self._wallet_owners[wallet_id] in present:
                    wallet_times[wallet_id] = max(wallet_times.get(wallet_id, 0), job.event_time)
        if wallet_times:
            self._balance_frames(wallet_times, private)
        for market_id, event_time in batch_times.items():
            self._ticker_frame(market_id, event_time, groups)
        return self._public_messages(groups) + [
            (user_group(user_id), {"type": FRAMES, "group": user_group(user_id), "user_id": user_id, "frames": frames})
            for user_id, frames in private.items()
        ]

    def _present(self, jobs: list) -> set[int]:
        """The round's users with a live private subscription, read now (one round trip).

        Read after every job of the round committed: a user who turns up later was
        acknowledged after those commits, and REST shows the user what was skipped.
        """
        users: set[int] = set()
        wallet_ids: list[int] = []
        for job in jobs:
            if isinstance(job, SettlementJob):
                for trade in job.trades:
                    users.add(trade.taker_user_id)
                    users.add(trade.maker_user_id)
            else:
                users.update(values["user_id"] for values in job.orders)
            if not isinstance(job, BatchJob):
                wallet_ids.extend(job.wallet_ids)
        if wallet_ids:
            users.update(self._owners(wallet_ids))
        return users_present(users)

    def _owners(self, wallet_ids: list[int]) -> list[int]:
        """The owners of the wallets (remembered: one query for the ones not seen yet)."""
        owners = self._wallet_owners
        missing = [wallet_id for wallet_id in wallet_ids if wallet_id not in owners]
        if missing:
            found = dict(Wallet.objects.filter(pk__in=missing).values_list("pk", "user_id"))
            while owners and len(owners) + len(missing) > WALLET_OWNERS_REMEMBERED:
                del owners[next(iter(owners))]  # the oldest; this round's stay
            for wallet_id in missing:
                owners[wallet_id] = found.get(wallet_id, 0)  # 0: deleted meanwhile, no one to tell
        return [owners[wallet_id] for wallet_id in wallet_ids]

    @staticmethod
    def _public_messages(groups: dict[str, list[list[str]]]) -> list[tuple[str, dict]]:
        """One message per group: ``frames`` is a list of [channel, frame] in order."""
        return [(group, {"type": FRAMES, "group": group, "frames": frames}) for group, frames in groups.items()]

    def _market(self, market_id: int) -> Market:
        market = self._markets.get(market_id)
        if market is None:
            market = Market.objects.select_related("base", "quote").get(pk=market_id)
            self._markets[market_id] = market
        return market

    def _trade_frames(self, job: BatchJob, groups: dict) -> None:
        self._market(job.market_id)
        if not job.trades:
            return
        channel = f"trades:{job.symbol}"
        items = [
            {
                "id": t.pk,
                "price": fmt(t.price),
                "quantity": fmt(t.quantity),
                "taker_side": t.taker_side,
                "time": iso_time(t.created_at),
            }
            for t in job.trades
        ]
        # Each trade's JSON once, for its own frame and the batched frame.
        texts = [json.dumps(data, separators=(",", ":")) for data in items]
        groups.setdefault(public_group("trades", job.market_id), []).extend(
            [channel, frame_of_json(channel, job.event_time, text)] for text in texts
        )
        pending = self._trade_batches.get(job.market_id)
        if pending is None:
            pending = self._trade_batches[job.market_id] = _TradeBatch(symbol=job.symbol)
        pending.trades.extend(texts)
        pending.event_time = job.event_time

    def _trade_batch_frame(self, market_id: int, groups: dict, *, force: bool = False) -> None:
        """Every trade since the last batched frame, in one frame, at most once per interval."""
        pending = self._trade_batches.get(market_id)
        now = time.monotonic()
        if pending is None or not pending.trades or (now < pending.hold_until and not force):
            return
        channel = f"trades:{pending.symbol}"
        groups.setdefault(public_group("trades", market_id), []).append(
            [batch_key(channel), frame_of_json(channel, pending.event_time, "[" + ",".join(pending.trades) + "]")]
        )
        pending.trades = []
        pending.hold_until = now + TRADES_BATCH_SECONDS

    def _order_frames(
        self, snapshots: list[dict], event_time: int, private: dict, present: set[int], *, matched: bool
    ) -> None:
        if matched:
            # A new order's own push can reach this thread after the matcher's batch
            # that took it (the matcher polls too): it must not follow the later status.
            for values in snapshots:
                self._matched_orders[values["id"]] = None
            while len(self._matched_orders) > MATCHED_ORDERS_REMEMBERED:
                del self._matched_orders[next(iter(self._matched_orders))]
        else:
            snapshots = [values for values in snapshots if values["id"] not in self._matched_orders]
        for values in snapshots:
            if values["user_id"] not in present:
                continue
            data = order_data(values, self._market(values["market_id"]).symbol)
            # The third item lets each socket drop a state older than one it already sent.
            version = [values["id"], order_version(values["updated_at"])]
            private.setdefault(values["user_id"], []).append(["orders", frame("orders", event_time, data), version])

    def _depth_merge(self, job: BatchJob) -> None:
        chain = self._chains.get(job.market_id)
        if chain is None or job.first_sequence != chain.last_sequence + 1:
            # First batch seen, or batches this process never saw: start a new chain.
            chain = _DepthChain(
                last_sequence=job.sequence,
                next_first=job.first_sequence,
                tick_size=job.tick_size,
                lot_size=job.lot_size,
            )
            self._chains[job.market_id] = chain
        chain.last_sequence = job.sequence
        chain.event_time = job.event_time
        chain.tick_size, chain.lot_size = job.tick_size, job.lot_size
        for side, levels in ((chain.bids, job.bids), (chain.asks, job.asks)):
            for price, qty in levels.items():
                side[price] = qty

    def _depth_frame(self, market_id: int, groups: dict, *, empty_ok: bool = False, force: bool = False) -> None:
        """The chain's merged levels as one diff, unless one went out less than an interval ago."""
        chain = self._chains.get(market_id)
        if chain is None or not (chain.bids or chain.asks or empty_ok):
            return
        now = time.monotonic()
        if now < chain.hold_until and not force:
            return  # merged into the next diff (a timer in ``_run`` sends it)
        market = self._markets[market_id]
        tick, lot = chain.tick_size, chain.lot_size
        data = {
            "first_sequence": chain.next_first,
            "sequence": chain.last_sequence,
            "bids": [
                [fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in sorted(chain.bids.items(), reverse=True)
            ],
            "asks": [[fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in sorted(chain.asks.items())],
        }
        channel = f"depth:{market.symbol}"
        groups.setdefault(public_group("depth", market_id), []).append(
            [channel, frame(channel, chain.event_time, data)]
        )
        chain.next_first = chain.last_sequence + 1
        chain.bids, chain.asks = {}, {}
        chain.hold_until = now + DEPTH_FLUSH_SECONDS

    def _seal_frames(self) -> list[tuple[str, dict]]:
        groups: dict[str, list[list[str]]] = {}
        for market_id, chain in self._chains.items():
            if chain.next_first <= chain.last_sequence:
                self._depth_frame(market_id, groups, empty_ok=True, force=True)
        for market_id in list(self._trade_batches):
            self._trade_batch_frame(market_id, groups, force=True)
        return self._public_messages(groups)

    def _ticker_frame(self, market_id: int, event_time: int, groups: dict) -> None:
        market = self._market(market_id)
        # The matcher's running 24 h figures when this process matches the market.
        data = ticker_latest(market_id=market_id) or ticker_get(market=market)
        if self._tickers.get(market_id) == data:
            return
        self._tickers[market_id] = data
        channel = f"ticker:{market.symbol}"
        groups.setdefault(public_group("ticker", market_id), []).append([channel, frame(channel, event_time, data)])

    def _tickers_refresh(self) -> list[tuple[str, dict]]:
        groups: dict[str, list[list[str]]] = {}
        now = epoch_ms(timezone.now())
        for market_id in list(self._tickers):
            self._ticker_frame(market_id, now, groups)
        return self._public_messages(groups)

    def _fill_frames(self, job: SettlementJob, private: dict, present: set[int]) -> None:
        market = self._market(job.market_id)
        for trade in job.trades:
            users = {trade.taker_user_id, trade.maker_user_id} & present
            if not users:
                continue
            trade.market = market
            for user_id in sorted(users):
                data = fill_for(trade, user_id)
                data["time"] = iso_time(data["time"])
                private.setdefault(user_id, []).append(["fills", frame("fills", job.event_time, data)])

    def _balance_frames(self, wallet_times: dict[int, int], private: dict) -> None:
        # Read the rows now rather than trusting the callers' copies: whichever
        # publish comes last then carries the newest committed balance.
        rows = list(
            Wallet.objects.filter(pk__in=list(wallet_times))
            .order_by("user_id", "currency_id")
            .values_list("pk", "user_id", "currency_id", "balance", "locked")
        )
        missing = {c for _, _, c, _, _ in rows if c not in self._currency_codes}
        if missing:
            self._currency_codes.update(Currency.objects.filter(pk__in=missing).values_list("pk", "code"))
        for wallet_id, user_id, currency_id, balance, locked in rows:
            data = {
                "currency": self._currency_codes[currency_id],
                "balance": fmt(balance),
                "locked": fmt(locked),
                "available": fmt(balance - locked),
            }
            private.setdefault(user_id, []).append(["balances", frame("balances", wallet_times[wallet_id], data)])
