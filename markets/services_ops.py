"""Market operations: halt, resume, fees and order filters (the ``market_ops`` role).

A halted market matches nothing: new orders are refused (``market_halted``, in
``markets.services``), queued orders (status ``new``) wait, and the matcher still
processes cancel requests, so owners can take their resting orders off the book (funds
are released by settlement as usual). Halting may also cancel the queued orders
(``cancel_queued``). Resuming wakes the matcher, which then matches the queued orders
in the order they were placed. The matcher reloads status and fees before every batch,
so these take effect without a restart. Tick and lot sizes are not changed here: the
matcher converts resting orders with the sizes it loaded, so changing them needs a
drained book and a matcher restart.

Every call is recorded in the settings history (``markets.services_settings``); a fee
lowered by one person waits for a second one's approval.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from exchange_site import events
from exchange_site.errors import NotFound
from exchange_site.events import MarketChanged

from .models import Market, Order
from .services_settings import SettingsOutcome, market_update, setting_record

# The cancel reason of queued orders canceled by a halt.
HALT_CANCEL_REASON = "market_halted"


def _locked(market_id: int) -> Market:
    market = Market.objects.select_for_update().filter(pk=market_id).first()
    if market is None:
        raise NotFound("Market not found.")
    return market


def market_halt(*, market_id: int, actor: User | None = None, reason: str = "", cancel_queued: bool = False) -> Market:
    """Stop matching on the market (idempotent); with ``cancel_queued`` also cancel its queued orders.

    Resting orders stay on the book until their owners cancel them. The queued orders
    are canceled by the matcher (it still processes cancels while halted), which gives
    each a sequence, so settlement releases their funds the usual way.
    """
    with transaction.atomic(durable=True):
        market = _locked(market_id)
        before = market.status
        if before != Market.Status.HALTED:
            market.status = Market.Status.HALTED
            market.save(update_fields=["status"])
        canceled = 0
        if cancel_queued:
            now = timezone.now()
            canceled = Order.objects.filter(
                market_id=market.pk, status=Order.Status.NEW, cancel_requested_at__isnull=True
            ).update(cancel_requested_at=now, cancel_reason=HALT_CANCEL_REASON, updated_at=now)
        if before != market.status or canceled:
            note = f"{canceled} queued order(s) canceled" if cancel_queued else ""
            setting_record(
                target=market,
                actor=actor,
                name="status",
                before=before,
                after=market.status,
                reason="; ".join(part for part in ((reason or "").strip()[:2000], note) if part),
            )
        if canceled:
            events.announce_on_commit(MarketChanged(market_id=market.pk))
    return market


def market_resume(*, market_id: int, actor: User | None = None, reason: str = "") -> Market:
    """Match again (idempotent): the queued orders are matched in the order they were placed."""
    with transaction.atomic(durable=True):
        market = _locked(market_id)
        if market.status != Market.Status.OPEN:
            before = market.status
            market.status = Market.Status.OPEN
            market.save(update_fields=["status"])
            setting_record(target=market, actor=actor, name="status", before=before, after=market.status, reason=reason)
            events.announce_on_commit(MarketChanged(market_id=market.pk))
    return market


def market_set_fees(
    *, actor: User, market_id: int, maker_fee: Decimal, taker_fee: Decimal, reason: str = ""
) -> SettingsOutcome:
    """Set the fee rates (0 to ``MAX_TRADING_FEE``); a lowered rate waits for a second person."""
    return market_update(
        actor=actor, market_id=market_id, changes={"maker_fee": maker_fee, "taker_fee": taker_fee}, reason=reason
    )


def market_set_filters(
    *, actor: User, market_id: int, min_qty: Decimal, min_notional: Decimal, reason: str = ""
) -> SettingsOutcome:
    """Set the minimum quantity and notional new orders must meet (resting orders are unaffected)."""
    return market_update(
        actor=actor, market_id=market_id, changes={"min_qty": min_qty, "min_notional": min_notional}, reason=reason
    )
