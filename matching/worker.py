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
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchange_site.db import ids_reserve, model_from_row, rows_insert, rows_update_values
from exchange_site.money import budget_units, fmt, from_steps, q, to_steps
from markets.candles import candles_record
from markets.models import BookSnapshot, Market, Order, Trade
from matching import engine
from matching.engine import Canceled, CancelRejected, Filled, Rejected, Rested
from matching.engine import Trade as TradeEvent

logger = logging.getLogger(__name__)

SNAPSHOT_LEVELS = 500
_CANCELED_BY = {engine.USER, engine.SELF_TRADE}
_ORDER_FIELDS = [
    "status",
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


class MarketMatcher:
    def __init__(self, market_id: int, *, batch_size: int | None = None) -> None:
        self.market_id = market_id
        self.batch_size = batch_size or settings.MATCHER_BATCH_SIZE
        self.rebuild()

    # -- recovery ---------------------------------------------------------------
    def rebuild(self) -> None:
        """Load the book from the open orders, in the priority they had."""
        self.market = Market.objects.select_related("base", "quote").get(pk=self.market_id)
        self.tick = self.market.tick_size
        self.lot = self.market.lot_size
        self.sequence = self.market.last_sequence
        self.book = engine.OrderBook()
        self.resting: dict[int, Order] = {}
        rows = Order.objects.filter(market_id=self.market_id, status__in=Order.RESTING_STATUSES).order_by(
            "sequence", "id"
        )
        for order in rows.iterator(chunk_size=5000):
            self.book.restore(
                order.pk,
                order.user_id,
                order.side,
                to_steps(order.price, self.tick),
                to_steps(order.quantity - order.filled_quantity, self.lot),
            )
            self.resting[order.pk] = order
        self.book.pop_changes()
        logger.info(
            "market %s: book rebuilt with %d resting orders at sequence %d",
            self.market.symbol,
            len(self.resting),
            self.sequence,
        )

    # -- one batch ------------------------------------------------------------
    def run_batch(self) -> BatchResult | None:
        """Match one batch of pending commands and commit it; None when idle."""
        cancels = list(
            Order.objects.filter(
                market_id=self.market_id,
                status__in=Order.RESTING_STATUSES,
                cancel_requested_at__isnull=False,
            )
            .order_by("cancel_requested_at", "id")
            .values_list("id", flat=True)[: self.batch_size]
        )
        rows = (
            Order.objects.filter(market_id=self.market_id, status=Order.Status.NEW)
            .order_by("id")
            .values_list(*_ORDER_COLUMNS)[: self.batch_size]
        )
        new_orders = [_order_from_row(row) for row in rows]
        if not cancels and not new_orders:
            return None
        self.market.refresh_from_db(fields=["maker_fee", "taker_fee", "status"])
        if self.market.status == Market.Status.HALTED:
            # A halted market matches nothing: queued orders wait, but cancels still go through.
            new_orders = list(
                Order.objects.filter(
                    market_id=self.market_id, status=Order.Status.NEW, cancel_requested_at__isnull=False
                ).order_by("id")[: self.batch_size]
            )
            if not cancels and not new_orders:
                return None
        start_sequence = self.sequence
        now = timezone.now()
        result = BatchResult(market=self.market, first_sequence=start_sequence + 1, sequence=start_sequence, time=now)
        changed: dict[int, Order] = {}
        trades: list[Trade] = []
        try:
            for order_id in cancels:
                self.sequence += 1
                order = self.resting.get(order_id)
                if order is None:
                    continue
                self._apply(self.book.cancel(order_id), order, changed, trades, now)
            for order in new_orders:
                self.sequence += 1
                order.sequence = self.sequence
                changed[order.id] = order
                if order.cancel_requested_at is not None:
                    self._close(order, Order.Status.CANCELED, order.cancel_reason or engine.USER, changed, now)
                    continue
                self._apply(self._submit(order), order, changed, trades, now)
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

    def _submit(self, order: Order) -> list:
        budget = None
        quantity = None if order.quantity is None else to_steps(order.quantity, self.lot)
        if order.side == Order.Side.BUY and order.type == Order.Type.MARKET:
            budget = budget_units(order.locked_amount, self.tick, self.lot)
        return self.book.submit(
            order.id,
            order.user_id,
            order.side,
            type=order.type,
            price=None if order.price is None else to_steps(order.price, self.tick),
            quantity=quantity,
            quote_budget=budget,
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            stp=order.self_trade_prevention,
        )

    def _apply(self, events: list, taker: Order, changed: dict[int, Order], trades: list[Trade], now: datetime) -> None:
        market = self.market
        for event in events:
            kind = type(event)
            if kind is TradeEvent:
                maker = self.resting[event.maker_id]
                price = from_steps(event.price, self.tick)
                quantity = from_steps(event.quantity, self.lot)
                quote = q(price * quantity)
                maker_fee = self._fee(maker.side, quantity, quote, market.maker_fee)
                taker_fee = self._fee(taker.side, quantity, quote, market.taker_fee)
                trades.append(
                    _trade(
                        id=None,
                        market_id=market.pk,
                        sequence=self.sequence,
                        maker_order_id=maker.id,
                        taker_order_id=taker.id,
                        maker_user_id=maker.user_id,
                        taker_user_id=taker.user_id,
                        taker_side=taker.side,
                        price=price,
                        quantity=quantity,
                        quote_quantity=quote,
                        maker_fee=maker_fee,
                        taker_fee=taker_fee,
                        created_at=now,
                    )
                )
                for order in (maker, taker):
                    order.filled_quantity += quantity
                    order.filled_quote += quote
                maker.status = Order.Status.PARTIALLY_FILLED
                maker.updated_at = now
                changed[maker.id] = maker
            elif kind is Filled:
                order = taker if event.order_id == taker.id else self.resting.pop(event.order_id)
                self._close(order, Order.Status.FILLED, "", changed, now)
            elif kind is Rested:
                taker.status = Order.Status.PARTIALLY_FILLED if taker.filled_quantity else Order.Status.OPEN
                taker.updated_at = now
                self.resting[taker.id] = taker
            elif kind is Canceled:
                order = taker if event.order_id == taker.id else self.resting.pop(event.order_id)
                status = Order.Status.CANCELED if event.reason in _CANCELED_BY else Order.Status.EXPIRED
                self._close(order, status, event.reason, changed, now)
            elif kind is Rejected:
                taker.reject_reason = event.reason
                self._close(taker, Order.Status.REJECTED, "", changed, now)
            elif kind is CancelRejected:
                logger.error(
                    "market %s: cancel of %s refused by the engine (%s)", market.symbol, event.order_id, event.reason
                )

    def _close(self, order: Order, status: str, reason: str, changed: dict[int, Order], now: datetime) -> None:
        order.status = status
        order.cancel_reason = reason
        order.closed_sequence = self.sequence
        order.updated_at = now
        self.resting.pop(order.id, None)
        changed[order.id] = order

    @staticmethod
    def _fee(side: str, quantity: Decimal, quote: Decimal, rate: Decimal) -> Decimal:
        # Each side pays from what it receives: the buyer in base, the seller in quote.
        return q((quantity if side == Order.Side.BUY else quote) * rate)

    def _commit(self, result: BatchResult) -> None:
        """Write the batch in one transaction: a handful of statements whatever its size.

        Trades go in by one COPY (ids taken from the sequence first, the publishers need
        them), the changed orders by one UPDATE over arrays, candles by at most three
        statements, then the market's sequence and the book snapshot.
        """
        bids, asks = self.book.depth(SNAPSHOT_LEVELS)
        tick, lot = self.tick, self.lot
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
            Market.objects.filter(pk=self.market_id).update(last_sequence=result.sequence)
            snapshot = {
                "sequence": result.sequence,
                "updated_at": timezone.now(),
                "bids": [[fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in bids],
                "asks": [[fmt(from_steps(p, tick)), fmt(from_steps(v, lot))] for p, v in asks],
            }
            result.book_bids, result.book_asks = snapshot["bids"], snapshot["asks"]
            # One UPDATE; the row exists after the market's first batch (one matcher per market).
            if not BookSnapshot.objects.filter(market_id=self.market_id).update(**snapshot):
                BookSnapshot.objects.create(market_id=self.market_id, **snapshot)


def _order_from_row(row: tuple) -> Order:
    return model_from_row(Order, _ORDER_COLUMNS, row)


def _trade(**values: object) -> Trade:
    # The model's own constructor costs more than the rest of a trade's handling.
    trade = model_from_row(Trade, (), ())
    trade.__dict__.update(values)
    trade._state.adding = True
    return trade
