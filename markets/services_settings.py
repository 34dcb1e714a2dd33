"""Currency and market settings: validated, recorded, and four-eyes where a change weakens a control.

Every setting that guards money (fees, withdrawal minimum and fee, dual-approval
threshold, confirmations, enabled flags, tick / lot / minimums) changes only here. Each
call validates the row as it would be stored (``full_clean``: the models' ``clean`` and
constraints) and writes one append-only ``SettingChange`` per field: who, when, which
object and field, before, after, why.

A change that weakens a control is not applied by the person who asks for it: it
becomes a ``SettingProposal`` that a different staff member approves (then it applies)
or rejects. Weakening means:

- currency: ``dual_approval_threshold`` raised, ``min_confirmations`` lowered,
  ``withdrawals_enabled`` switched back on;
- market: ``maker_fee`` or ``taker_fee`` lowered.

Everything else (tightening a control, fees raised, minimums, deposits on or off, name)
applies at once and is recorded the same way. Whether the actor holds the role is
checked by the caller (admin); the four-eyes rules hold for everyone and are checked
here (and by a database constraint).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.audit import staff_action_record
from accounts.models import User
from exchange_site.errors import Conflict, InvalidInput, NotFound, clean_text
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from exchange_site.money import fmt

from .models import Currency, Market, SettingChange, SettingProposal

MAX_REASON = 2000

CURRENCY_CREATE_FIELDS = (
    "code",
    "name",
    "precision",
    "withdrawal_fee",
    "min_withdrawal",
    "dual_approval_threshold",
    "min_confirmations",
    "deposits_enabled",
    "withdrawals_enabled",
)
# Code and precision are fixed once created: clients and stored amounts depend on them.
CURRENCY_FIELDS = CURRENCY_CREATE_FIELDS[1:2] + CURRENCY_CREATE_FIELDS[3:]
MARKET_CREATE_FIELDS = (
    "symbol",
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_qty",
    "min_notional",
    "maker_fee",
    "taker_fee",
)
# Tick and lot sizes are fixed once created: the matcher converts resting orders with them.
MARKET_FIELDS = ("min_qty", "min_notional", "maker_fee", "taker_fee")

Action = SettingChange.Action
Status = SettingProposal.Status


def _raised(before: Any, after: Any) -> bool:
    return after > before


def _lowered(before: Any, after: Any) -> bool:
    return after < before


def _switched_on(before: Any, after: Any) -> bool:
    return bool(after) and not before


WEAKENING: dict[type[models.Model], dict[str, Callable[[Any, Any], bool]]] = {
    Currency: {
        "dual_approval_threshold": _raised,
        "min_confirmations": _lowered,
        "withdrawals_enabled": _switched_on,
    },
    Market: {"maker_fee": _lowered, "taker_fee": _lowered},
}


class ProposalPending(Conflict):
    code = "proposal_pending"
    message = "A change of this setting already waits for approval: approve or reject it first."


@dataclass
class SettingsOutcome:
    """What a settings call did: fields applied at once, proposals waiting for a second person."""

    target: Currency | Market
    applied: list[str] = field(default_factory=list)
    proposals: list[SettingProposal] = field(default_factory=list)

    @property
    def admin_notice(self) -> str:
        """What still waits for a second person, for the admin's message."""
        if not self.proposals:
            return ""
        names = ", ".join(f"{p.field} {p.before} -> {p.after}" for p in self.proposals)
        return f"waits for a second staff member's approval: {names}."


def _invalid(exc: ValidationError) -> InvalidInput:
    return InvalidInput.fields(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})


def setting_text(value: Any) -> str:
    """How a setting's value is written in the history: plain-notation decimals, codes for rows."""
    if isinstance(value, Decimal):
        return fmt(value) or ""
    return "" if value is None else str(value)


def _to_python(model: type[models.Model], name: str, raw: Any) -> Any:
    if name in ("base", "quote"):
        if isinstance(raw, Currency):
            return raw
        currency = Currency.objects.filter(pk=raw).first() if isinstance(raw, int) else None
        if currency is None:
            raise InvalidInput.field(name, f"{name} must be an existing currency.")
        return currency
    try:
        return model._meta.get_field(name).to_python(raw)
    except ValidationError as exc:
        raise InvalidInput.field(name, f"{name}: {exc.messages[0]}") from exc


def _full_clean(obj: models.Model) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _check_fields(values: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidInput(f"These settings cannot be set here: {', '.join(unknown)}.", details={"fields": unknown})


def _target(obj: models.Model) -> dict[str, models.Model]:
    return {"currency": obj} if isinstance(obj, Currency) else {"market": obj}


def _staff_action(obj: models.Model, *, action: str, name: str, after: str) -> str:
    """``market.change``, ``currency.propose``, ...; a market's status change is its halt or resume."""
    label = obj._meta.model_name
    if name == "status" and action == Action.CHANGE:
        return f"{label}.{'halt' if after == Market.Status.HALTED else 'resume'}"
    return f"{label}.{action}"


def _record(obj: models.Model, *, actor: User | None, action: str, name: str = "", before: str = "", after: str = "",
            reason: str = "", proposal: SettingProposal | None = None) -> SettingChange:  # fmt: skip
    if actor is not None:
        staff_action_record(
            actor=actor,
            action=_staff_action(obj, action=action, name=name, after=after),
            obj=obj,
            before={name: before} if name else None,
            after={**({name: after} if name else {"settings": after}), "reason": reason,
                   **({"proposal_id": proposal.pk} if proposal else {})},
        )  # fmt: skip
    return SettingChange.objects.create(
        **_target(obj),
        actor=actor,
        action=action,
        field=name,
        before=before,
        after=after,
        reason=reason,
        proposal=proposal,
    )


def setting_record(*, target: Currency | Market, actor: User | None, name: str, before: Any, after: Any,
                   reason: str = "") -> SettingChange:  # fmt: skip
    """Record a change applied by another service (halt, resume) in the settings history."""
    return _record(
        target, actor=actor, action=Action.CHANGE, name=name, before=setting_text(before),
        after=setting_text(after), reason=reason,
    )  # fmt: skip


# -- creation ----------------------------------------------------------------------------------


def _creation_summary(obj: Currency | Market) -> str:
    allowed = CURRENCY_CREATE_FIELDS if isinstance(obj, Currency) else MARKET_CREATE_FIELDS
    return ", ".join(f"{name}={setting_text(getattr(obj, name))}" for name in allowed)


def setting_created_record(*, target: Currency | Market, actor: User | None, reason: str) -> SettingChange:
    """Record the creation of a currency or market that another service wrote (the bootstrap)."""
    return _record(target, actor=actor, action=Action.CREATE, after=_creation_summary(target), reason=reason)


def _create(model: type[models.Model], *, actor: User, values: Mapping[str, Any], allowed: tuple[str, ...],
            reason: str) -> Any:  # fmt: skip
    _check_fields(values, allowed)
    reason = clean_text(reason, name="reason", required=False, max_length=MAX_REASON)
    obj = model(**{name: _to_python(model, name, raw) for name, raw in values.items()})
    _full_clean(obj)
    try:
        with transaction.atomic(durable=True):
            obj.save()
            setting_created_record(target=obj, actor=actor, reason=reason)
    except IntegrityError as exc:
        raise Conflict(f"The {model._meta.verbose_name} could not be created: {exc}", code="conflict") from exc
    return obj


def currency_create(*, actor: User, values: Mapping[str, Any], reason: str = "") -> Currency:
    """Create a validated currency and record who created it with which settings."""
    return _create(Currency, actor=actor, values=values, allowed=CURRENCY_CREATE_FIELDS, reason=reason)


def market_create(*, actor: User, values: Mapping[str, Any], reason: str = "") -> Market:
    """Create a validated market (tick within the quote's precision, lot within the base's)."""
    return _create(Market, actor=actor, values=values, allowed=MARKET_CREATE_FIELDS, reason=reason)


# -- changes -----------------------------------------------------------------------------------


def _locked(model: type[models.Model], pk: int) -> Any:
    obj = model.objects.select_for_update().filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name.capitalize()} not found.")
    return obj


def _update(model: type[models.Model], pk: int, *, actor: User, changes: Mapping[str, Any],
            allowed: tuple[str, ...], reason: str) -> SettingsOutcome:  # fmt: skip
    _check_fields(changes, allowed)
    reason = clean_text(reason, name="reason", required=False, max_length=MAX_REASON)
    rules = WEAKENING[model]
    with transaction.atomic(durable=True):
        obj = _locked(model, pk)
        wanted = {}
        for name, raw in changes.items():
            value = _to_python(model, name, raw)
            if value != getattr(obj, name):
                wanted[name] = value
        # The row as it would be with every change, the proposed ones included, must be valid.
        candidate = copy.copy(obj)
        for name, value in wanted.items():
            setattr(candidate, name, value)
        _full_clean(candidate)
        weakening = {n: v for n, v in wanted.items() if n in rules and rules[n](getattr(obj, n), v)}
        direct = {n: v for n, v in wanted.items() if n not in weakening}
        outcome = SettingsOutcome(target=obj)
        if direct:
            before = {name: getattr(obj, name) for name in direct}
            for name, value in direct.items():
                setattr(obj, name, value)
            _full_clean(obj)
            obj.save(update_fields=list(direct))
            for name, value in direct.items():
                _record(obj, actor=actor, action=Action.CHANGE, name=name, before=setting_text(before[name]),
                        after=setting_text(value), reason=reason)  # fmt: skip
            outcome.applied = list(direct)
        for name, value in weakening.items():
            try:
                with transaction.atomic():
                    proposal = SettingProposal.objects.create(
                        **_target(obj),
                        field=name,
                        before=setting_text(getattr(obj, name)),
                        after=setting_text(value),
                        reason=reason,
                        proposed_by=actor,
                    )
            except IntegrityError as exc:
                raise ProposalPending(details={"field": name}) from exc
            _record(obj, actor=actor, action=Action.PROPOSE, name=name, before=proposal.before,
                    after=proposal.after, reason=reason, proposal=proposal)  # fmt: skip
            outcome.proposals.append(proposal)
    return outcome


def currency_update(*, actor: User, currency_id: int, changes: Mapping[str, Any], reason: str = "") -> SettingsOutcome:
    """Change currency settings: tightening applies at once, weakening waits for a second person."""
    return _update(Currency, currency_id, actor=actor, changes=changes, allowed=CURRENCY_FIELDS, reason=reason)


def market_update(*, actor: User, market_id: int, changes: Mapping[str, Any], reason: str = "") -> SettingsOutcome:
    """Change fees and order filters: a lowered fee waits for a second person, the rest applies at once."""
    return _update(Market, market_id, actor=actor, changes=changes, allowed=MARKET_FIELDS, reason=reason)


# -- proposals ---------------------------------------------------------------------------------


def _locked_proposal(proposal_id: int) -> SettingProposal:
    proposal = SettingProposal.objects.select_for_update().filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound("Proposal not found.")
    return proposal


def setting_proposal_approve(*, actor: User, proposal_id: int, comment: str = "") -> SettingProposal:
    """Apply a colleague's proposed change (never one's own), validated against the row as it is now."""
    comment = clean_text(comment, name="reason", required=False, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        proposal = _locked_proposal(proposal_id)
        if proposal.proposed_by_id == actor.pk:
            raise SelfApproval("Nobody may approve their own proposal.", details={"proposal_id": proposal.pk})
        if proposal.status != Status.PENDING:
            raise AlreadyDecided(
                "This proposal was already decided.", details={"proposal_id": proposal.pk, "status": proposal.status}
            )
        model: type[models.Model] = Currency if proposal.currency_id else Market
        obj = _locked(model, proposal.currency_id or proposal.market_id)
        name = proposal.field
        before = getattr(obj, name)
        setattr(obj, name, _to_python(model, name, proposal.after))
        _full_clean(obj)
        obj.save(update_fields=[name])
        proposal.status = Status.APPLIED
        proposal.decided_by = actor
        proposal.decided_at = timezone.now()
        proposal.decision_reason = comment
        proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _record(obj, actor=actor, action=Action.APPROVE, name=name, before=setting_text(before),
                after=proposal.after, reason=comment or proposal.reason, proposal=proposal)  # fmt: skip
    return proposal


def setting_proposal_reject(*, actor: User, proposal_id: int, reason: str) -> SettingProposal:
    """Close a proposal without applying it; the proposer may withdraw their own this way."""
    reason = clean_text(reason, name="reason", required=True, max_length=MAX_REASON)
    with transaction.atomic(durable=True):
        proposal = _locked_proposal(proposal_id)
        if proposal.status != Status.PENDING:
            raise AlreadyDecided(
                "This proposal was already decided.", details={"proposal_id": proposal.pk, "status": proposal.status}
            )
        proposal.status = Status.REJECTED
        proposal.decided_by = actor
        proposal.decided_at = timezone.now()
        proposal.decision_reason = reason
        proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _record(proposal.target, actor=actor, action=Action.REJECT, name=proposal.field, before=proposal.before,
                after=proposal.after, reason=reason, proposal=proposal)  # fmt: skip
    return proposal
