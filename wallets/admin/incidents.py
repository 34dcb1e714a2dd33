"""Ledger incidents opened by the periodic audit, resolved by staff."""

from __future__ import annotations

from django.contrib import admin

from exchange_site.admin_base import (
    Decision,
    DecisionAdminMixin,
    ReadOnlyAdmin,
    reason_field,
)

from ..incidents import incident_resolve
from ..models import Incident

# -- ledger incidents (opened by the periodic audit) ------------------------------------

INCIDENT_DECISIONS = (
    Decision(
        name="resolve",
        label="Resolve",
        run=lambda actor, pk, data: incident_resolve(incident_id=pk, actor=actor, note=data["note"]),
        allowed=lambda user: user.has_perm("wallets.resolve_incident"),
        available=lambda incident, user: incident.status == Incident.Status.OPEN,
        fields=(("note", reason_field("What was found and done (recorded)", required=True)),),
        question=(
            "Resolve this incident? Halted markets stay halted until market operations resume them; "
            "withdrawals of the currency are released."
        ),
    ),
)


@admin.register(Incident)
class IncidentAdmin(DecisionAdminMixin, ReadOnlyAdmin):
    decisions = INCIDENT_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = ("id", "status", "currency", "summary", "created_at", "last_seen_at", "resolved_by")
    list_filter = ("status", "currency")
    list_select_related = ("currency", "resolved_by")
    date_hierarchy = "created_at"
    readonly_fields = (
        "kind",
        "currency",
        "status",
        "summary",
        "details",
        "actions",
        "created_at",
        "last_seen_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
