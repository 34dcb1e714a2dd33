"""The bridge between the database and the in-memory engine.

One ``MarketMatcher`` per market: it rebuilds the book from open orders, then takes
cancel requests and new orders in batches, gives each command the market's next
sequence number, and writes everything a batch did in ONE transaction (trades, order
changes, candles, the book snapshot and ``last_sequence``). Side effects (settlement,
WebSocket pushes) run after commit. If a batch fails to commit, the in-memory book is
thrown away and rebuilt from the database, which stays the source of truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from exchange_site.db import RowsQuery, ids_reserve, model_from_row, rows_insert, rows_update_values
from exchange_site.money import fmt, from_steps
from markets.candles import candles_record
from markets.models import BookSnapshot, Market, Order, OrderList, Trade
from matching import engine

from .worker_orders import BatchWrites, OrderEvents, epoch_ms

logger = logging.getLogger(__name__)

SNAPSHOT_LEVELS = 500
# Rendered prices and sizes kept per matcher (``levels_text``) before starting afresh.
_TEXT_CACHE_MAX = 50_000
_ORDER_FIELDS = [
    "status",
    "price",
    "quantity",
    "triggered_at",
    "amended_at",
    "filled_quantity",
    "filled_quote",
    "sequence",
    "closed_sequence",
    "cancel_reason",
    "reject_reason",
    "updated_at",
]
_TRADE_COLUMNS = [
    "id",
    "market",
    "sequence",
    "maker_order",
    "taker_order",
    "maker_user",
    "taker_user",
    "taker_side",
    "price",
    "quantity",
    "quote_quantity",
    "maker_fee",
    "taker_fee",
    "created_at",
]
# Every column of an order: new orders are read as rows and built without the model's
# constructor (``model_from_row``), which cost more per order than matching it.
_ORDER_COLUMNS = [f.attname for f in Order._meta.concrete_fields]


@dataclass
class BatchResult:
    """What one committed batch produced, for the after-commit publishers."""

    market: Market
    first_sequence: int
    sequence: int
    time: datetime
    committed_at: datetime | None = None
    trades: list[Trade] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    depth_bids: dict[int, int] = field(default_factory=dict)
    depth_asks: dict[int, int] = field(default_factory=dict)
    # The committed book snapshot (``[[price, qty], ...]`` best first), for the REST cache.
    book_bids: list[list[str]] = field(default_factory=list)
    book_asks: list[list[str]] = field(default_factory=list)


class MarketMatcher(OrderEvents):
    def __init__(self, market_id: int, *, batch_size: int | None = None) -> None:
        self.market_id = market_id
        self.batch_size = batch_size or settings.MATCHER_BATCH_SIZE
        self.writes = BatchWrites()
        # The last batch read a full batch of some command: more may be waiting without a wake-up.
        self.backlog = False
        self._queries()
        self.rebuild()

    # -- recovery ---------------------------------------------------------------
    def rebuild(self) -> None:
        """Load the book from the open orders, in the priority they had; stops, OCO links and last price too.

        Nothing triggers twice: a stop that triggered was persisted as such with the
        trades that triggered it, and ``restore_stop`` never triggers anything.
        """
        self.market = Market.objects.select_related("base", "quote").get(pk=self.market_id)
        self.tick = self.market.tick_size
        self.lot = self.market.lot_size
        self._price_text: dict[int, str] = {}
        self._size_text: dict[int, str] = {}
        self.sequence = self.market.last_sequence
        self.book = engine.OrderBook()
        self.resting: dict[int, Order] = {}
        self.oco: dict[int, int] = {}
        rows = Order.objects.filter(market_id=self.market_id, status__in=Order.IN_ENGINE_STATUSES).order_by(
            "sequence", "id"
        )
        self.restore_orders(list(rows.iterator(chunk_size=5000)))
        self.book.pop_changes()
        logger.info(
            "market %s: book rebuilt with %d resting orders and stops at sequence %d",
            self.market.symbol,
            len(self.resting),
            self.sequence,
        )

    # -- one batch ------------------------------------------------------------
    def _queries(self) -> None:
        """The per-batch reads, compiled once per matcher (their SQL never changes)."""
        orders = Order.objects.filter(market_id=self.market_id)
        self._cancels = RowsQuery(
            orders.filter(status__in=Order.IN_ENGINE_STATUSES, cancel_requested_at__isnull=False)
            .order_by("cancel_requested_at", "id")
            .values_list("id")[: self.batch_size]
        )
        self._amends = RowsQuery(
            orders.filter(status__in=Order.RESTING_STATUSES, amend_requested_at__isnull=False)
            .order_by("amend_requested_at", "id")
            .values_list("id", "amend_quantity", "amend_price", "amend_requested_at")[: self.batch_size]
        )
        self._new = RowsQuery(
            orders.filter(status=Order.Status.NEW).order_by("id").values_list(*_ORDER_COLUMNS)[: self.batch_size]
        )

    def _commands(self) -> tuple[list[int], list[tuple], list[Order]]:
        cancels = [row[0] for row in self._cancels.fetch()]
        amends = self._amends.fetch()
        new_orders = [_order_from_row(row) for row in self._new.fetch()]
        self.backlog = max(len(cancels), len(amends), len(new_orders)) >= self.batch_size
        return cancels, amends, new_orders

    def run_batch(self) -> BatchResult | None:
        """Match one batch of pending commands and commit it; None when idle.

        GTD expiry comes first in every batch (also an otherwise idle one), then
        cancels, amends and new orders, each command with its own sequence number.
        """
        cancels, amends, new_orders = self._commands()
        now = timezone.now()
        self.writes = BatchWrites()
        try:
            expired = self.book.expire(epoch_ms(now))
        except Exception:
            self.rebuild()
            raise
        if not cancels and not amends and not new_orders and not expired:
            return None
        self.market.refresh_from_db(fields=["maker_fee", "taker_fee", "status"])
        if self.market.status == Market.Status.HALTED:
            # A halted market matches nothing: queued orders and amends wait, but cancels still go through.
            amends = []
            new_orders = list(
                Order.objects.filter(
                    market_id=self.market_id, status=Order.Status.NEW, cancel_requested_at__isnull=False
                ).order_by("id")[: self.batch_size]
            )
            self.backlog = max(len(cancels), len(new_orders)) >= self.batch_size  # what waits anyway is no backlog
            if not cancels and not new_orders and not expired:
                return None
        start_sequence = self.sequence
        result = BatchResult(market=self.market, first_sequence=start_sequence + 1, sequence=start_sequence, time=now)
        changed: dict[int, Order] = {}
        trades: list[Trade] = []
        try:
            if expired:
                self.sequence += 1
                self.apply(expired, None, changed, trades, now)
            for order_id in cancels:
                self.sequence += 1
                order = self.resting.get(order_id)
                if order is None:
                    continue  # gone already (its OCO pair's cancel took it along)
                self.apply(self.book.cancel(order_id), order, changed, trades, now)
            for order_id, quantity, price, requested_at in amends:
                self.sequence += 1
                self.writes.amends_done.append((order_id, requested_at))
                order = self.resting.get(order_id)
                if order is not None:
                    self.apply(self.amend(order, quantity, price), order, changed, trades, now)
            self._run_new(new_orders, changed, trades, now)
            result.sequence = self.sequence
            result.depth_bids, result.depth_asks = self.book.pop_changes()
            result.trades = trades
            result.orders = list(changed.values())
            self._commit(result)
            result.committed_at = timezone.now()
        except Exception:
            logger.exception("market %s: batch failed; rebuilding the book from the database", self.market.symbol)
            self.rebuild()
            raise
        return result

    def _run_new(self, new_orders: list[Order], changed: dict[int, Order], trades: list[Trade], now: datetime) -> None:
        by_id = {o.id: o for o in new_orders}
        taken: set[int] = set()
        for order in new_orders:
            if order.id in taken:
                continue  # the stop leg of an OCO pair submitted with its limit leg
            self.sequence += 1
            order.sequence = self.sequence
            changed[order.id] = order
            legs = [order]
            if order.order_list_id is not None:
                other = self._other_leg(order, by_id)
                if other is not None:
                    other.sequence = self.sequence
                    changed[other.id] = other
                    taken.add(other.id)
                    legs.append(other)
            if any(leg.cancel_requested_at is not None for leg in legs):
                for leg in legs:
                    self.close(leg, Order.Status.CANCELED, leg.cancel_reason or engine.USER, changed, now)
                continue
            if len(legs) == 2:
                limit, stop = sorted(legs, key=lambda o: o.type != Order.Type.LIMIT)
                self.apply(self.submit_oco(limit, stop), limit, changed, trades, now, {stop.id: stop})
                continue
            self.apply(self.submit(order), order, changed, trades, now)

    def _other_leg(self, order: Order, by_id: dict[int, Order]) -> Order | None:
        for other in by_id.values():
            if other.order_list_id == order.order_list_id and other.id != order.id:
                return other
        # The batch ended between the two legs: fetch the other one.
        rows = RowsQuery(
            Order.objects.filter(order_list_id=order.order_list_id, status=Order.Status.NEW)
            .exclude(pk=order.id)
            .order_by("id")
            .values_list(*_ORDER_COLUMNS)[:1]
        ).fetch()
        return _order_from_row(rows[0]) if rows else None

    @staticmethod
    def new_trade(**values: object) -> Trade:
        return _trade(**values)

    def _commit(self, result: BatchResult) -> None:
        """Write the batch in one transaction: a handful of statements whatever its size.

        Trades go in by one COPY (ids taken from the sequence first, the publishers need
        them), the changed orders by one UPDATE over arrays, candles by at most three
        statements, then the market's sequence and the book snapshot.
        """
        bids, asks = self.book.depth(SNAPSHOT_LEVELS)
        with transaction.atomic(durable=True):
            if result.trades:
                trades = result.trades
                for trade, trade_id in zip(trades, ids_reserve(Trade, len(trades)), strict=True):
                    trade.id = trade_id
                rows_insert(
                    Trade,
                    _TRADE_COLUMNS,
                    [
                        (
                            t.id,
                            t.market_id,
                            t.sequence,
                            t.maker_order_id,
                            t.taker_order_id,
                            t.maker_user_id,
                            t.taker_user_id,
                            t.taker_side,
                            t.price,
                            t.quantity,
                            t.quote_quantity,
                            t.maker_fee,
                            t.taker_fee,
                            t.created_at,
                        )
                        for t in trades
                    ],
                )
                candles_record(
                    market_id=self.market_id,
                    fills=[(t.created_at, t.price, t.quantity, t.quote_quantity) for t in trades],
                )
            if result.orders:
                rows_update_values(
                    Order,
                    _ORDER_FIELDS,
                    [
                        (
                            o.status,
                            o.price,
                            o.quantity,
                            o.triggered_at,
                            o.amended_at,
                            o.filled_quantity,
                            o.filled_quote,
                            o.sequence,
                            o.closed_sequence,
                            o.cancel_reason,
                            o.reject_reason,
                            o.updated_at,
                            o.id,
                        )
                        for o in result.orders
                    ],
                )
            self._commit_lifecycle()
            Market.objects.filter(pk=self.market_id).update(last_sequence=result.sequence)
            snapshot = {
                "sequence": result.sequence,
                "updated_at": timezone.now(),
                "bids": self.levels_text(bids),
                "asks": self.levels_text(asks),
            }
            result.book_bids, result.book_asks = snapshot["bids"], snapshot["asks"]
            # One UPDATE; the row exists after the market's first batch (one matcher per market).
            if not BookSnapshot.objects.filter(market_id=self.market_id).update(**snapshot):
                BookSnapshot.objects.create(market_id=self.market_id, **snapshot)

    def levels_text(self, levels: list[tuple[int, int]]) -> list[list[str]]:
        """Book levels in ticks and lots as the API renders them (``[["100.1", "2"], ...]``).

        The snapshot renders up to 500 levels per side every batch, mostly the same
        prices and sizes as the batch before: each distinct one is formatted once.
        """
        prices, sizes = self._price_text, self._size_text
        if len(sizes) > _TEXT_CACHE_MAX or len(prices) > _TEXT_CACHE_MAX:
            prices.clear()
            sizes.clear()
        out = []
        for ticks, lots in levels:
            price = prices.get(ticks)
            if price is None:
                price = prices[ticks] = fmt(from_steps(ticks, self.tick))
            size = sizes.get(lots)
            if size is None:
                size = sizes[lots] = fmt(from_steps(lots, self.lot))
            out.append([price, size])
        return out

    def _commit_lifecycle(self) -> None:
        """OCO lock moves (relative: the amend service may grow a lock meanwhile), lists done, amends answered."""
        writes = self.writes
        for order_id, delta in writes.lock_moves:
            Order.objects.filter(pk=order_id).update(locked_amount=F("locked_amount") + delta)
        if writes.lists_done:
            OrderList.objects.filter(pk__in=writes.lists_done, status=OrderList.Status.ACTIVE).update(
                status=OrderList.Status.DONE, updated_at=timezone.now()
            )
        for order_id, requested_at in writes.amends_done:
            # Only the request that was read: a newer one waits for the next batch.
            Order.objects.filter(pk=order_id, amend_requested_at=requested_at).update(
                amend_requested_at=None, amend_quantity=None, amend_price=None
            )


def _order_from_row(row: tuple) -> Order:
    return model_from_row(Order, _ORDER_COLUMNS, row)


def _trade(**values: object) -> Trade:
    # The model's own constructor costs more than the rest of a trade's handling.
    trade = model_from_row(Trade, (), ())
    trade.__dict__.update(values)
    trade._state.adding = True
    return trade
