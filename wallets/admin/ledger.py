"""Wallets and the ledger: read-only, since balances change only through the wallet service."""

from __future__ import annotations

from django.contrib import admin

from exchange_site.admin_base import (
    ReadOnlyAdmin,
)

from ..models import LedgerEntry, Wallet


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "currency", "balance", "locked", "updated_at")
    list_select_related = ("user", "currency")
    list_filter = ("currency",)
    search_fields = ("user__email",)
    sortable_by = ("id", "updated_at")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "currency",
        "kind",
        "amount",
        "locked_change",
        "balance_after",
        "locked_after",
        "reference",
    )
    list_select_related = ("user", "currency")
    list_filter = ("kind", "currency")
    search_fields = ("user__email", "reference")
    sortable_by = ("id", "created_at")
    date_hierarchy = "created_at"
