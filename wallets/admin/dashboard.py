"""What the wallets add to the back-office index page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

from ..models import Incident
from ..selectors_withdrawals import pending_work


def ledger_dashboard_panel(request: HttpRequest, site_name: str) -> dict[str, Any]:
    """Open ledger incidents for every staff member (trading may be halted), then the work waiting."""
    user = request.user
    context: dict[str, Any] = {
        "open_incidents": list(Incident.objects.filter(status=Incident.Status.OPEN).select_related("currency")[:20]),
        "incidents_url": reverse(f"{site_name}:wallets_incident_changelist"),
    }
    if user.has_perm("wallets.view_withdrawal") or user.has_perm("wallets.view_manualdeposit"):
        withdrawals = reverse(f"{site_name}:wallets_withdrawal_changelist")
        context["pending_work"] = pending_work()
        context["pending_links"] = {
            "review": withdrawals + "?status__exact=pending_review",
            "unsent": withdrawals + "?status__exact=approved",
            "manual": reverse(f"{site_name}:wallets_manualdeposit_changelist") + "?status__exact=proposed",
        }
    return context


admin.site.register_dashboard_panel(ledger_dashboard_panel)
