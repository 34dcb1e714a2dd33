"""Settlement: apply the matcher's committed output to balances, exactly once.

Trades and order closures newer than the market's settlement cursor are applied in
sequence order; the cursor advances in the same transaction as the balances, so a
crash at any point either applied a range completely or not at all.

A run is a few statements whatever its size: the cursor locked with its market's
progress in one read, the trades and the closed orders as plain rows (a binary cursor
on PostgreSQL), then the wallet service's bulk path (one UPDATE for the wallets, every
ledger entry in one COPY on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.selectors import fee_account
from exchange_site import events
from exchange_site.db import model_from_row, values_rows
from exchange_site.events import TradesSettled
from markets.models import Order, Trade

from .models import LedgerEntry, SettlementCursor
from .pnl import pnl_settle
from .services import wallet_apply_changes_bulk

ZERO = Decimal(0)
# Sequences per transaction. The run holds its traders' wallet rows locked until it
# commits, so order placement by those traders waits for it: a bigger run saves only a
# dozen statements per run (small next to its 2,000 orders) and makes that wait longer.
MAX_SEQUENCES_PER_RUN = settings.SETTLEMENT_MAX_SEQUENCES
Kind = LedgerEntry.Kind
BUY = Order.Side.BUY

# Every column of a trade, in model order (the publishers get Trade instances).
_TRADE_COLUMNS = [f.attname for f in Trade._meta.concrete_fields]
_CLOSED_COLUMNS = ("id", "user_id", "side", "locked_amount", "filled_quantity", "filled_quote", "closed_sequence")


@dataclass
class SettlementResult:
    market_id: int
    from_sequence: int
    to_sequence: int
    trades: list[Trade] = field(default_factory=list)
    closed_order_ids: list[int] = field(default_factory=list)
    wallets: list = field(default_factory=list)
    # Whether the run reached the market's last sequence as read under the cursor lock.
    caught_up: bool = False


def _trade_changes(trade: Trade, base: int, quote: int, fee_user_id: int, out: list[tuple]) -> None:
    """Append the trade's ledger lines, as ``BalanceChange``-ordered tuples, to ``out``."""
    ref = f"trade:{trade.id}"
    qty, quote_qty = trade.quantity, trade.quote_quantity
    if trade.taker_side == BUY:
        buyer, seller = trade.taker_user_id, trade.maker_user_id
        buyer_fee, seller_fee = trade.taker_fee, trade.maker_fee
    else:
        buyer, seller = trade.maker_user_id, trade.taker_user_id
        buyer_fee, seller_fee = trade.maker_fee, trade.taker_fee
    out.append((buyer, quote, Kind.TRADE, -quote_qty, -quote_qty, ref))
    out.append((buyer, base, Kind.TRADE, qty, ZERO, ref))
    out.append((seller, base, Kind.TRADE, -qty, -qty, ref))
    out.append((seller, quote, Kind.TRADE, quote_qty, ZERO, ref))
    if buyer_fee:
        out.append((buyer, base, Kind.TRADE_FEE, -buyer_fee, ZERO, ref))
        out.append((fee_user_id, base, Kind.FEE_INCOME, buyer_fee, ZERO, ref))
    if seller_fee:
        out.append((seller, quote, Kind.TRADE_FEE, -seller_fee, ZERO, ref))
        out.append((fee_user_id, quote, Kind.FEE_INCOME, seller_fee, ZERO, ref))


def _release_change(row: tuple, base: int, quote: int) -> tuple | None:
    order_id, user_id, side, locked_amount, filled_quantity, filled_quote, _ = row
    if side == BUY:
        unused, currency = locked_amount - filled_quote, quote
    else:
        unused, currency = locked_amount - filled_quantity, base
    if unused == 0:
        return None
    return (user_id, currency, Kind.ORDER_RELEASE, ZERO, -unused, f"order:{order_id}")


def _cursor_lock(market_id: int) -> tuple[int, int, int, int]:
    """Lock the market's cursor; (settled sequence, market's last sequence, base, quote) in one read."""
    locked = SettlementCursor.objects.select_for_update(of=("self",)).filter(market_id=market_id)
    columns = ("settled_sequence", "market__last_sequence", "market__base_id", "market__quote_id")
    row = locked.values_list(*columns).first()
    if row is None:
        SettlementCursor.objects.get_or_create(market_id=market_id)
        row = locked.values_list(*columns).get()
    return row


def market_settle(*, market_id: int, max_sequences: int | None = None) -> SettlementResult | None:
    """Settle the next range of a market's sequences; None when already caught up."""
    max_sequences = max_sequences or MAX_SEQUENCES_PER_RUN
    with transaction.atomic(durable=True):
        start, last_sequence, base, quote = _cursor_lock(market_id)
        if last_sequence <= start:
            return None
        end = min(last_sequence, start + max_sequences)
        trade_rows = values_rows(
            Trade.objects.filter(market_id=market_id, sequence__gt=start, sequence__lte=end)
            .order_by("sequence", "id")
            .values_list(*_TRADE_COLUMNS)
        )
        trades = [model_from_row(Trade, _TRADE_COLUMNS, row) for row in trade_rows]
        closed = values_rows(
            Order.objects.filter(market_id=market_id, closed_sequence__gt=start, closed_sequence__lte=end)
            .order_by("closed_sequence", "id")
            .values_list(*_CLOSED_COLUMNS)
        )
        fee_user_id = fee_account().pk
        changes: list[tuple] = []
        # Within one sequence, trades come before the closures they caused.
        t, n = 0, len(trades)
        for row in closed:
            while t < n and trades[t].sequence <= row[-1]:
                _trade_changes(trades[t], base, quote, fee_user_id, changes)
                t += 1
            release = _release_change(row, base, quote)
            if release is not None:
                changes.append(release)
        while t < n:
            _trade_changes(trades[t], base, quote, fee_user_id, changes)
            t += 1
        # Not announced as changed wallets: ``TradesSettled`` carries them with the fills.
        wallets = wallet_apply_changes_bulk(changes=changes, announce=False) if changes else {}
        # Realized PnL of the run's traders, in the same transaction (wallets/pnl.py).
        now = timezone.now()
        pnl_settle(market_id=market_id, trades=trades, at=now)
        SettlementCursor.objects.filter(market_id=market_id).update(settled_sequence=end, updated_at=now)
        result = SettlementResult(
            market_id, start, end, trades, [row[0] for row in closed], list(wallets.values()), end == last_sequence
        )
        events.announce_on_commit(
            TradesSettled(
                market_id=market_id,
                from_sequence=start,
                to_sequence=end,
                trades=trades,
                wallet_ids=[wallet.pk for wallet in result.wallets],
            )
        )
    return result


def market_settle_all(*, market_id: int) -> int:
    """Settle until caught up with the matcher; returns how many runs it took.

    Stops after the run that reached the last sequence it read, without a further run
    to find nothing: whatever the matcher commits after that read triggers settlement
    again (``settle_market_soon``, the periodic safety net), and a single-order run (REST
    placement) then costs one transaction, not two.
    """
    runs = 0
    while (result := market_settle(market_id=market_id)) is not None:
        runs += 1
        if result.caught_up:
            break
    return runs
