"""Read-only back-office views of wallets, the ledger and deposits.

Balances change only through the wallet service, so the admin never adds, edits or
deletes these rows. Money columns are not sortable: on SQLite they are stored as text.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Deposit, LedgerEntry, Wallet


class ReadOnlyAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "currency",
        "amount",
        "txid",
        "confirmations",
        "status",
        "source",
        "credited_at",
    )
    list_select_related = ("user", "currency")
    list_filter = ("status", "source", "currency")
    search_fields = ("user__email", "txid", "address")
    sortable_by = ("id", "created_at", "confirmations", "status", "credited_at")
    date_hierarchy = "created_at"
