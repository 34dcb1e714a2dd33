"""Realized profit and loss per trader and market, average cost, in the quote currency.

Settlement feeds every settled trade here in sequence order, in its own transaction,
and writes the changed rows with one bulk upsert per run; ``pnl_replay`` gives the
same figures from the trade log alone. The rule (docs/API_EXTENSIONS.md, "Realized
PnL"), per trade and side, buyer's leg first:

* a buy of ``q`` for ``Q`` quote with a fee ``f`` in base adds ``q - f`` to the position
  at a cost of ``Q``; a sell of ``q`` for ``Q`` with a fee ``g`` in quote removes ``q``
  for proceeds of ``Q - g``. ``fees_paid_quote`` adds ``f * price`` and ``g``.
* A leg in the direction of the position (or from flat) adds its quantity and its cost.
  A leg against it closes ``k = min(|leg|, |position|)``: the closed share of the cost
  basis (all of it when the position closes) is set against the closed share of the
  leg's value, the difference is realized; any rest of the leg opens the other way.
  Selling more than was bought here (coins from a deposit) opens a negative position.
* Shares are ``value * k / n`` rounded half-even to the money quantum (18 places), and
  what is removed is exactly what the rest keeps: nothing is created or lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import transaction

from markets.models import Trade

from .models import SettlementCursor, TraderPnl

ZERO = Decimal(0)
QUANTUM = settings.MONEY_QUANTUM
BUY = "buy"


def _share(value: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``value * part / whole`` at the money quantum; exact (no division) for the whole."""
    if part == whole:
        return value
    return (value * part / whole).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(slots=True)
class PnlState:
    """A trader's figures in one market. ``cost_basis`` is signed like the position."""

    position: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid_quote: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal:
        if not self.position:
            return ZERO
        return (self.cost_basis / self.position).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)

    def leg(self, quantity: Decimal, value: Decimal) -> None:
        """Apply a signed base change and its signed cost (positive paid, negative received)."""
        position = self.position
        if not position or (quantity > 0) == (position > 0):
            self.position = position + quantity
            self.cost_basis += value
            return
        size, held = abs(quantity), abs(position)
        closed = min(size, held)
        removed = _share(self.cost_basis, closed, held)
        closing_value = _share(value, closed, size)
        self.realized_pnl -= closing_value + removed
        self.cost_basis -= removed
        self.position = position + (closed if quantity > 0 else -closed)
        if size > closed:
            self.position += (size - closed) if quantity > 0 else -(size - closed)
            self.cost_basis += value - closing_value


def trade_legs(trade) -> tuple[tuple[int, Decimal, Decimal, Decimal], tuple[int, Decimal, Decimal, Decimal]]:
    """The buyer's and the seller's leg of a ``Trade``: (user id, quantity, value, fee in quote)."""
    if trade.taker_side == BUY:
        buyer, seller = trade.taker_user_id, trade.maker_user_id
        buyer_fee, seller_fee = trade.taker_fee, trade.maker_fee
    else:
        buyer, seller = trade.maker_user_id, trade.taker_user_id
        buyer_fee, seller_fee = trade.maker_fee, trade.taker_fee
    buyer_fee_quote = (buyer_fee * trade.price).quantize(QUANTUM, rounding=ROUND_HALF_EVEN) if buyer_fee else ZERO
    return (
        (buyer, trade.quantity - buyer_fee, trade.quote_quantity, buyer_fee_quote),
        (seller, -trade.quantity, -(trade.quote_quantity - seller_fee), seller_fee),
    )


def pnl_apply(states: dict[int, PnlState], trades: Iterable) -> set[int]:
    """Apply ``trades`` (in sequence order) to ``states`` by user id; return the users changed."""
    changed: set[int] = set()
    for trade in trades:
        for user_id, quantity, value, fee in trade_legs(trade):
            state = states.get(user_id)
            if state is None:
                state = states[user_id] = PnlState()
            state.leg(quantity, value)
            state.fees_paid_quote += fee
            changed.add(user_id)
    return changed


def pnl_replay(*, market_id: int) -> dict[int, PnlState]:
    """Every trader's figures in a market recomputed from its settled trades (the audit's view)."""
    settled = SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
    trades = Trade.objects.filter(market_id=market_id, sequence__lte=settled or 0).order_by("sequence", "id")
    states: dict[int, PnlState] = {}
    pnl_apply(states, trades.iterator(chunk_size=2000))
    return states


PNL_FIELDS = ("position", "cost_basis", "average_cost", "realized_pnl", "fees_paid_quote", "updated_at")


def pnl_settle(*, market_id: int, trades: list, at) -> None:
    """Fold a settlement run's trades into the stored figures: one read, one bulk upsert.

    Call inside settlement's transaction; the market's settlement cursor lock serialises
    the writers of a market's rows.
    """
    if not trades:
        return
    user_ids = {t.maker_user_id for t in trades} | {t.taker_user_id for t in trades}
    rows = TraderPnl.objects.filter(market_id=market_id, user_id__in=user_ids).values_list(
        "user_id", "position", "cost_basis", "realized_pnl", "fees_paid_quote"
    )
    states = {row[0]: PnlState(*row[1:]) for row in rows}
    changed = pnl_apply(states, trades)
    TraderPnl.objects.bulk_create(
        _rows(market_id, states, sorted(changed), at),
        update_conflicts=True,
        unique_fields=["user", "market"],
        update_fields=list(PNL_FIELDS),
    )


def _rows(market_id: int, states: dict[int, PnlState], user_ids: Iterable[int], at) -> list:
    return [
        TraderPnl(
            user_id=user_id,
            market_id=market_id,
            position=s.position,
            cost_basis=s.cost_basis,
            average_cost=s.average_cost,
            realized_pnl=s.realized_pnl,
            fees_paid_quote=s.fees_paid_quote,
            updated_at=at,
        )
        for user_id in user_ids
        for s in (states[user_id],)
    ]


def _figures(states: dict[int, PnlState]) -> dict[int, tuple[Decimal, ...]]:
    return {u: (s.position, s.cost_basis, s.realized_pnl, s.fees_paid_quote) for u, s in states.items()}


def pnl_differences(*, market_id: int) -> list[int]:
    """Users whose stored figures differ from a replay of the trade log (empty: all agree)."""
    rows = TraderPnl.objects.filter(market_id=market_id).values_list(
        "user_id", "position", "cost_basis", "realized_pnl", "fees_paid_quote"
    )
    stored = {row[0]: tuple(row[1:]) for row in rows}
    replayed = _figures(pnl_replay(market_id=market_id))
    return sorted(u for u in stored.keys() | replayed.keys() if stored.get(u) != replayed.get(u))


def pnl_rebuild(*, market_id: int, at) -> int:
    """Replace a market's stored figures with a replay of its settled trades; returns the rows written.

    For trades settled before the figures existed (or after a repair). Holds the market's
    settlement cursor, so settlement waits and no run is counted twice or missed.
    """
    with transaction.atomic(durable=True):
        SettlementCursor.objects.select_for_update().filter(market_id=market_id).first()
        states = pnl_replay(market_id=market_id)
        TraderPnl.objects.filter(market_id=market_id).delete()
        TraderPnl.objects.bulk_create(_rows(market_id, states, sorted(states), at))
    return len(states)
