"""Realized PnL per trader and market, for compliance: read-only (settlement writes it), exportable to CSV."""

from __future__ import annotations

from django.contrib import admin

from exchange_site.admin_base import ReadOnlyAdmin

from ..models import TraderPnl


@admin.register(TraderPnl)
class TraderPnlAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "market",
        "realized_pnl",
        "fees_paid_quote",
        "position",
        "average_cost",
        "cost_basis",
        "updated_at",
    )
    list_select_related = ("user", "market")
    list_filter = ("market",)
    search_fields = ("user__email",)
    sortable_by = ("updated_at",)
    date_hierarchy = "updated_at"
