"""An account's verification tier, set by compliance or back office and recorded in the staff audit trail.

The tier decides the account's withdrawal limits (``wallets.models.TierLimit``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from exchange_site.errors import InvalidInput

from .audit import staff_action_record
from .models import User

MAX_TIER = 9


def tier_clean(tier: Any) -> int:
    """A tier from 0 to ``MAX_TIER``, or ``validation_error``."""
    if isinstance(tier, bool) or not isinstance(tier, int) or not 0 <= tier <= MAX_TIER:
        raise InvalidInput.field("tier", f"tier must be a whole number from 0 to {MAX_TIER}.")
    return tier


def account_tier_set(*, actor: User, user: User, tier: int, request: Any = None) -> User:
    """Give ``user`` the verification ``tier``; a change is recorded (before and after) with the actor."""
    tier = tier_clean(tier)
    with transaction.atomic(durable=True):
        # FOR NO KEY UPDATE: withdrawal requests lock the same row, so none is checked
        # against the old tier once this commits.
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        before = locked.tier
        if before != tier:
            locked.tier = tier
            locked.save(update_fields=["tier"])
            staff_action_record(
                actor=actor,
                action="account.tier_set",
                obj=locked,
                before={"tier": before},
                after={"tier": tier},
                request=request,
            )
    return locked
