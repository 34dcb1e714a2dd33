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


def four_eyes_check(*, actor_id: int, is_open: bool, status: str, involved_ids: Iterable[int | None]) -> None:
    """Refuse a decision on a closed proposal, or by one of the people it involves."""
    if not is_open:
        raise AlreadyDecided(details={"status": status})
    if actor_id in set(involved_ids):
        raise SelfApproval()
