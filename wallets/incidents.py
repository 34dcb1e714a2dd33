"""The ledger watch: audit periodically, and on a breach stop the bleeding, never repair.

A breach in a currency halts every market that trades it and holds its withdrawals
(no new requests, no approvals, no payouts) until staff have investigated; the open
incident shows on the admin index. Nothing is corrected automatically.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from exchange_site.errors import Conflict, DomainError, NotFound
from markets.models import Currency, Market
from markets.services_ops import market_halt

from .audit import AuditReport, ledger_audit
from .models import Incident

logger = logging.getLogger(__name__)


class WithdrawalsHeld(Conflict):
    code = "withdrawals_held"
    message = "Withdrawals of this currency are on hold while a ledger incident is investigated."


def withdrawals_held(*, currency_id: int) -> bool:
    return Incident.objects.filter(status=Incident.Status.OPEN, currency_id=currency_id).exists()


def ensure_withdrawals_not_held(*, currency_id: int) -> None:
    """Refuse a withdrawal step while its currency has an open incident."""
    if withdrawals_held(currency_id=currency_id):
        code = Currency.objects.filter(pk=currency_id).values_list("code", flat=True).first()
        raise WithdrawalsHeld(details={"currency": code})


def ledger_watch(*, wait_seconds: float = 30) -> AuditReport:
    """Run the audit; open an incident (and halt, hold) per breached currency."""
    report = ledger_audit(wait_seconds=wait_seconds)
    if report.ok:
        return report
    by_currency: dict[str | None, list[str]] = defaultdict(list)
    for breach in report.breaches:
        by_currency[breach.currency].append(str(breach))
    codes = {code for code in by_currency if code}
    currencies = {c.code: c for c in Currency.objects.filter(code__in=codes)}
    for code, lines in by_currency.items():
        currency = currencies.get(code) if code else None
        incident_record(currency=currency, lines=lines)
    return report


def incident_record(*, currency: Currency | None, lines: list[str]) -> Incident:
    """Open (or refresh) the incident of a currency and take the protective actions once."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        incident = (
            Incident.objects.select_for_update()
            .filter(status=Incident.Status.OPEN, currency=currency, kind="ledger_breach")
            .first()
        )
        if incident is not None:
            incident.details = lines[:200]
            incident.last_seen_at = now
            incident.save(update_fields=["details", "last_seen_at"])
            return incident
        label = currency.code if currency else "the ledger"
        incident = Incident.objects.create(
            currency=currency,
            summary=f"Ledger audit breach in {label}: {len(lines)} finding(s)",
            details=lines[:200],
        )
    actions: list[str] = []
    if currency is not None:
        markets = Market.objects.filter(Q(base=currency) | Q(quote=currency), status=Market.Status.OPEN)
        for market in markets:
            market_halt(market_id=market.pk, reason=f"ledger incident {incident.pk}")
            actions.append(f"halted {market.symbol}")
        actions.append(f"withdrawals of {currency.code} held")
    Incident.objects.filter(pk=incident.pk).update(actions=actions)
    incident.actions = actions
    logger.critical("ledger incident %s opened: %s; %s", incident.pk, incident.summary, "; ".join(actions))
    return incident


def incident_resolve(*, incident_id: int, actor: User, note: str) -> Incident:
    """Close an investigated incident; markets stay halted until market operations resume them."""
    note = (note or "").strip()
    if not note:
        raise DomainError("A resolution note is required.", code="validation_error")
    with transaction.atomic(durable=True):
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None:
            raise NotFound("Incident not found.")
        if incident.status != Incident.Status.OPEN:
            raise Conflict("The incident is already resolved.", code="invalid_status")
        incident.status = Incident.Status.RESOLVED
        incident.resolved_at = timezone.now()
        incident.resolved_by = actor
        incident.resolution_note = note[:4000]
        incident.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    return incident
