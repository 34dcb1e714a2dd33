"""The four-eyes rule shared by every staff decision on someone's request.

A proposal (withdrawal review, 2FA reset, ...) is decided once, by someone other than
the people it concerns; the answers carry the same codes wherever the rule applies.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import Conflict


class SelfApproval(Conflict):
    code = "self_approval"
    message = "Nobody may decide on a request they made or that concerns them."


class AlreadyDecided(Conflict):
    code = "already_decided"
    message = "This request was already decided."


def four_eyes_refusal(
    *, actor_id: int, is_open: bool, status: str, involved_ids: Iterable[int | None]
) -> Conflict | None:
    """Why ``actor_id`` may not decide: the proposal is closed, or it involves them (None: they may)."""
    if not is_open:
        return AlreadyDecided(details={"status": status})
    if actor_id in set(involved_ids):
        return SelfApproval()
    return None


def four_eyes_check(*, actor_id: int, is_open: bool, status: str, involved_ids: Iterable[int | None]) -> None:
    """Refuse a decision on a closed proposal, or by one of the people it involves."""
    refusal = four_eyes_refusal(actor_id=actor_id, is_open=is_open, status=status, involved_ids=involved_ids)
    if refusal is not None:
        raise refusal
