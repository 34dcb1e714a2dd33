"""Staff edit the withdrawal limit of a tier; every change is recorded in the staff audit trail.

How the limits are applied: ``wallets.withdrawal_controls``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.audit import staff_action_record
from accounts.models import User
from accounts.tiers import tier_clean
from exchange_site.errors import InvalidInput, NotFound
from exchange_site.money import fmt, q
from markets.models import Currency

from .models import TierLimit

MAX_LIMIT = Decimal(10) ** (settings.MONEY_MAX_DIGITS - settings.MONEY_DECIMAL_PLACES)


def _snapshot(row: TierLimit) -> dict[str, Any]:
    return {"tier": row.tier, "currency": row.currency.code, "limit_24h": fmt(row.limit_24h)}


def tier_limit_set(*, actor: User, tier: int, currency: Currency, limit_24h: Decimal, request: Any = None) -> TierLimit:
    """Create or change the 24-hour limit of ``tier`` in ``currency``."""
    tier = tier_clean(tier)
    if not isinstance(limit_24h, Decimal) or not limit_24h.is_finite() or not 0 <= limit_24h < MAX_LIMIT:
        raise InvalidInput.field("limit_24h", "limit_24h must be a decimal amount, 0 or more, within the money range.")
    if limit_24h != q(limit_24h):
        raise InvalidInput.field("limit_24h", "limit_24h must be a decimal amount, at most 18 decimal places.")
    with transaction.atomic(durable=True):
        row = TierLimit.objects.select_for_update().filter(tier=tier, currency=currency).first()
        before = _snapshot(row) if row else None
        if row is None:
            row = TierLimit.objects.create(tier=tier, currency=currency, limit_24h=limit_24h)
        else:
            row.limit_24h = limit_24h
            row.save(update_fields=["limit_24h", "updated_at"])
        row.refresh_from_db()
        staff_action_record(
            actor=actor, action="tier_limit.set", obj=row, before=before, after=_snapshot(row), request=request
        )
    return row


def tier_limit_delete(*, actor: User, tier_limit_id: int, request: Any = None) -> None:
    """Remove a limit (its currency is then no longer limited for that tier by this row)."""
    with transaction.atomic(durable=True):
        rows = TierLimit.objects.select_for_update(of=("self",)).select_related("currency")
        row = rows.filter(pk=tier_limit_id).first()
        if row is None:
            raise NotFound("Tier limit not found.")
        staff_action_record(
            actor=actor, action="tier_limit.delete", obj=row, before=_snapshot(row), after=None, request=request
        )
        row.delete()
