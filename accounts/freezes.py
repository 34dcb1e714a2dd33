"""Refusals of a frozen account: the checks order placement and withdrawal requests call.

The flags (``User.trading_frozen``, ``User.withdrawals_frozen``) are set and lifted only
by the freeze services (``backoffice.freezes``), which save the user row: that voids
the cached user (``accounts.authentication``), so a freeze holds from the very next
request. Placement reads the flag from that cache, not the database: order placement
stays at its query budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exchange_site.errors import DomainError

from .authentication import user_cached


class AccountFrozen(DomainError):
    code = "account_frozen"
    status_code = 403
    message = "This account is frozen."


def ensure_trading_not_frozen(*, user_ids: Iterable[int], current: Any | None = None) -> None:
    """Refuse new orders of accounts whose trading is frozen (``account_frozen``, 403); each account checked once.

    ``current``: the request's user, already read this request through the same
    generation-checked cache; used as it is instead of a second cache round trip.
    """
    for user_id in user_ids:
        user = current if current is not None and current.pk == user_id else user_cached(user_id=user_id)
        if user is not None and user.trading_frozen:
            raise AccountFrozen("Trading is frozen on this account: no new orders.", details={"scope": "trading"})


def ensure_withdrawals_not_frozen(*, user: Any) -> None:
    """Refuse withdrawal requests of an account whose withdrawals are frozen (``account_frozen``, 403)."""
    current = user_cached(user_id=user.pk)
    if current is not None and current.withdrawals_frozen:
        raise AccountFrozen("Withdrawals are frozen on this account.", details={"scope": "withdrawals"})
