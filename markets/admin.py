"""Back-office views of markets: currencies and markets are configured here; orders,
trades, candles and book snapshots are written only by the matcher and shown read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import BookSnapshot, Candle, Currency, Market, Order, Trade


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "precision",
        "withdrawal_fee",
        "min_withdrawal",
        "dual_approval_threshold",
        "min_confirmations",
        "deposits_enabled",
        "withdrawals_enabled",
    ]
    list_filter = ["deposits_enabled", "withdrawals_enabled"]
    search_fields = ["code", "name"]


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "base",
        "quote",
        "status",
        "tick_size",
        "lot_size",
        "min_qty",
        "min_notional",
        "maker_fee",
        "taker_fee",
        "last_sequence",
    ]
    list_filter = ["status", "quote"]
    list_select_related = ["base", "quote"]
    search_fields = ["symbol", "base__code", "quote__code"]
    autocomplete_fields = ["base", "quote"]
    # The sequence belongs to the matcher.
    readonly_fields = ["last_sequence", "created_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the matcher writes: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "market",
        "user",
        "side",
        "type",
        "price",
        "quantity",
        "filled_quantity",
        "status",
        "created_at",
    ]
    list_filter = ["status", "side", "type", "market"]
    list_select_related = ["market", "user"]
    search_fields = ["=id", "client_order_id", "user__email"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "market",
        "sequence",
        "taker_side",
        "price",
        "quantity",
        "quote_quantity",
        "maker_user",
        "taker_user",
        "created_at",
    ]
    list_filter = ["market", "taker_side"]
    list_select_related = ["market", "maker_user", "taker_user"]
    search_fields = ["=id", "=maker_order__id", "=taker_order__id", "maker_user__email", "taker_user__email"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin):
    list_display = ["market", "open_time", "open", "high", "low", "close", "volume", "trade_count"]
    list_filter = ["market"]
    list_select_related = ["market"]
    date_hierarchy = "open_time"
    show_full_result_count = False


@admin.register(BookSnapshot)
class BookSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["market", "sequence", "updated_at"]
    list_select_related = ["market"]
