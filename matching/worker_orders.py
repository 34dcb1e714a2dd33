"""The matcher's translation between order rows and engine calls and events.

A mixin of ``MarketMatcher``: what goes into the engine (submits, OCO pairs, amends,
the rebuild of resting orders, waiting stops and OCO links) and what comes out of it
(every event applied to the in-memory order rows the batch then writes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchange_site.money import budget_units, from_steps, q, to_steps
from markets.models import Market, Order, OrderList, Trade
from matching import engine
from matching.engine import (
    Amended,
    AmendRejected,
    Canceled,
    CancelRejected,
    Filled,
    Rejected,
    Rested,
    StopRested,
    Triggered,
)
from matching.engine import Trade as TradeEvent

logger = logging.getLogger(__name__)

_CANCELED_BY = {engine.USER, engine.SELF_TRADE}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)


def epoch_ms(moment: datetime | None) -> int | None:
    """A time as the engine's clock sees it: whole epoch milliseconds (rounded down)."""
    return None if moment is None else (moment - _EPOCH) // _MS


@dataclass
class BatchWrites:
    """What a batch writes beside trades and order rows (all applied in its transaction)."""

    lock_moves: list[tuple[int, Decimal]] = field(default_factory=list)
    lists_done: set[int] = field(default_factory=set)
    amends_done: list[tuple[int, datetime]] = field(default_factory=list)


class OrderEvents:
    """Order rows in, engine events out; mixed into ``MarketMatcher``."""

    market: Market
    tick: Decimal
    lot: Decimal
    sequence: int
    book: engine.OrderBook
    # Orders the engine holds: resting in the book, or waiting as stops.
    resting: dict[int, Order]
    # OCO legs linked in the engine: leg id -> other leg id.
    oco: dict[int, int]
    writes: BatchWrites

    # -- rebuild ---------------------------------------------------------------
    def restore_orders(self, rows: list[Order]) -> None:
        """Put resting orders, waiting stops (arrival order) and OCO links back into a fresh book."""
        stops = []
        for order in rows:
            self.resting[order.pk] = order
            if order.status == Order.Status.UNTRIGGERED:
                stops.append(order)
                continue
            self.book.restore(
                order.pk,
                order.user_id,
                order.side,
                to_steps(order.price, self.tick),
                to_steps(order.quantity - order.filled_quantity, self.lot),
                order.time_in_force,
                order.post_only,
                order.self_trade_prevention,
                epoch_ms(order.expire_time),
            )
        legs: dict[int, list[Order]] = {}
        for order in rows:
            if order.order_list_id is not None:
                legs.setdefault(order.order_list_id, []).append(order)
        for stop in stops:
            self.book.restore_stop(*self._stop_args(stop, legs.get(stop.order_list_id, ())))
        active = set(
            OrderList.objects.filter(pk__in=list(legs), status=OrderList.Status.ACTIVE).values_list("pk", flat=True)
        )
        for list_id, pair in legs.items():
            limit = next((o for o in pair if o.type == Order.Type.LIMIT), None)
            stop = next((o for o in pair if o.status == Order.Status.UNTRIGGERED), None)
            if list_id in active and limit and stop and limit.filled_quantity == 0:
                self.book.restore_oco(limit.pk, stop.pk)
                self.oco[limit.pk], self.oco[stop.pk] = stop.pk, limit.pk
        last = Trade.objects.filter(market_id=self.market.pk).order_by("-sequence", "-id").values_list("price")[:1]
        self.book.restore_last_price(to_steps(last[0][0], self.tick) if last else None)

    def _stop_args(self, stop: Order, legs) -> tuple:
        # The budget of a buy stop-market is its lock; an OCO leg's lock is carried by its limit leg.
        lock = stop.locked_amount + sum((o.locked_amount for o in legs if o.pk != stop.pk), Decimal(0))
        return (
            stop.pk,
            stop.user_id,
            stop.side,
            stop.type,
            to_steps(stop.stop_price, self.tick),
            None if stop.price is None else to_steps(stop.price, self.tick),
            None if stop.quantity is None else to_steps(stop.quantity, self.lot),
            self._budget(stop, lock),
            stop.time_in_force,
            stop.self_trade_prevention,
            epoch_ms(stop.expire_time),
        )

    def _budget(self, order: Order, lock: Decimal) -> int | None:
        if order.side == Order.Side.BUY and order.type in (Order.Type.MARKET, Order.Type.STOP_MARKET):
            return budget_units(lock, self.tick, self.lot)
        return None

    # -- commands --------------------------------------------------------------
    def submit(self, order: Order) -> list:
        stop = order.type in STOP_TYPES
        return self.book.submit(
            order.id,
            order.user_id,
            order.side,
            type=order.type,
            price=None if order.price is None else to_steps(order.price, self.tick),
            quantity=None if order.quantity is None else to_steps(order.quantity, self.lot),
            quote_budget=self._budget(order, order.locked_amount),
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            stp=order.self_trade_prevention,
            stop_price=to_steps(order.stop_price, self.tick) if stop else None,
            trigger_immediately=order.trigger_immediately if stop else False,
            expire_time=epoch_ms(order.expire_time),
        )

    def submit_oco(self, limit: Order, stop: Order) -> list:
        events = self.book.submit_oco(
            limit.id,
            stop.id,
            limit.user_id,
            limit.side,
            to_steps(limit.quantity, self.lot),
            to_steps(limit.price, self.tick),
            to_steps(stop.stop_price, self.tick),
            None if stop.price is None else to_steps(stop.price, self.tick),
            self._budget(stop, limit.locked_amount + stop.locked_amount),
            limit.time_in_force,
            epoch_ms(limit.expire_time),
            limit.self_trade_prevention,
        )
        if self.book.get(limit.id) is not None and self.book.get_stop(stop.id) is not None:
            self.oco[limit.id], self.oco[stop.id] = stop.id, limit.id
        return events

    def amend(self, order: Order, quantity: Decimal | None, price: Decimal | None) -> list:
        """The engine's answer to an amend request (quantity is the new total, as the trader gave it)."""
        lots = ticks = None
        try:
            if quantity is not None:
                lots = to_steps(quantity - order.filled_quantity, self.lot)
            if price is not None:
                ticks = to_steps(price, self.tick)
        except Exception:  # noqa: BLE001 - the service validated it; a market's filters may have changed
            return [AmendRejected(order.id, engine.INVALID_ORDER)]
        if lots is not None and lots <= 0:
            return [AmendRejected(order.id, engine.INVALID_ORDER)]
        return self.book.amend(order.id, lots, ticks)

    # -- events ----------------------------------------------------------------
    def apply(
        self,
        events: list,
        current: Order | None,
        changed: dict[int, Order],
        trades: list[Trade],
        now: datetime,
        known: dict[int, Order] | None = None,
    ) -> None:
        """Apply one command's events; ``current`` is the order entering the book (the taker)."""
        known = known or {}

        def find(order_id: int) -> Order:
            if current is not None and current.id == order_id:
                return current
            return known.get(order_id) or self.resting[order_id]

        for event in events:
            kind = type(event)
            if kind is TradeEvent:
                self._trade(event, find(event.maker_id), find(event.taker_id), changed, trades, now)
            elif kind is Triggered:
                current = find(event.order_id)
                self.sequence += 1
                current.sequence = self.sequence
                current.triggered_at = now
                current.status = Order.Status.NEW
                current.updated_at = now
                changed[current.id] = current
                self._oco_done(current)
            elif kind is Filled:
                self.close(find(event.order_id), Order.Status.FILLED, "", changed, now)
            elif kind is Rested:
                order = find(event.order_id)
                order.status = Order.Status.PARTIALLY_FILLED if order.filled_quantity else Order.Status.OPEN
                order.updated_at = now
                self.resting[order.id] = order
                changed[order.id] = order
            elif kind is StopRested:
                order = find(event.order_id)
                order.status = Order.Status.UNTRIGGERED
                order.updated_at = now
                self.resting[order.id] = order
                changed[order.id] = order
            elif kind is Canceled:
                self._canceled(event, find(event.order_id), changed, now)
            elif kind is Rejected:
                order = find(event.order_id)
                order.reject_reason = event.reason
                self.close(order, Order.Status.REJECTED, "", changed, now)
            elif kind is Amended:
                current = find(event.order_id)
                self._amended(event, current, changed, now)
            elif kind is AmendRejected:
                logger.info("market %s: amend of %s refused (%s)", self.market.symbol, event.order_id, event.reason)
            elif kind is CancelRejected:
                logger.error(
                    "market %s: cancel of %s refused by the engine (%s)",
                    self.market.symbol,
                    event.order_id,
                    event.reason,
                )

    def _trade(
        self, event, maker: Order, taker: Order, changed: dict[int, Order], trades: list[Trade], now: datetime
    ) -> None:
        market = self.market
        price = from_steps(event.price, self.tick)
        quantity = from_steps(event.quantity, self.lot)
        quote = q(price * quantity)
        trades.append(
            self.new_trade(
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
                maker_fee=self.fee(maker.side, quantity, quote, market.maker_fee),
                taker_fee=self.fee(taker.side, quantity, quote, market.taker_fee),
                created_at=now,
            )
        )
        for order in (maker, taker):
            order.filled_quantity += quantity
            order.filled_quote += quote
        maker.status = Order.Status.PARTIALLY_FILLED
        maker.updated_at = now
        changed[maker.id] = maker
        changed[taker.id] = taker
        self._oco_done(maker)
        self._oco_done(taker)

    def _canceled(self, event, order: Order, changed: dict[int, Order], now: datetime) -> None:
        if event.reason == engine.OCO_OTHER_LEG and order.type == Order.Type.LIMIT:
            # Only a triggered stop leg takes an untouched limit leg away: the pair's lock goes with it.
            other = self.oco.get(order.id)
            if other is not None and order.locked_amount:
                stop = self.resting[other]
                stop.locked_amount += order.locked_amount
                self.writes.lock_moves.append((other, order.locked_amount))
                self.writes.lock_moves.append((order.id, -order.locked_amount))
                order.locked_amount = Decimal(0)
        self._oco_done(order)
        status = Order.Status.CANCELED if event.reason in _CANCELED_BY else Order.Status.EXPIRED
        self.close(order, status, event.reason, changed, now)

    def _amended(self, event: Amended, order: Order, changed: dict[int, Order], now: datetime) -> None:
        order.price = from_steps(event.price, self.tick)
        order.quantity = order.filled_quantity + from_steps(event.quantity, self.lot)
        order.amended_at = now
        order.updated_at = now
        if not event.priority_kept:
            order.sequence = self.sequence  # the amend's own sequence: its new place in time
        changed[order.id] = order

    def _oco_done(self, order: Order) -> None:
        """The pair's link is gone (a leg traded, triggered or closed): the list is done."""
        if order.order_list_id is None:
            return
        self.writes.lists_done.add(order.order_list_id)
        other = self.oco.pop(order.id, None)
        if other is not None:
            self.oco.pop(other, None)

    def close(self, order: Order, status: str, reason: str, changed: dict[int, Order], now: datetime) -> None:
        order.status = status
        order.cancel_reason = reason
        order.closed_sequence = self.sequence
        order.updated_at = now
        self.resting.pop(order.id, None)
        changed[order.id] = order
        self._oco_done(order)

    @staticmethod
    def fee(side: str, quantity: Decimal, quote: Decimal, rate: Decimal) -> Decimal:
        # Each side pays from what it receives: the buyer in base, the seller in quote.
        return q((quantity if side == Order.Side.BUY else quote) * rate)

    @staticmethod
    def new_trade(**values: object) -> Trade:  # pragma: no cover - replaced by the worker
        raise NotImplementedError
