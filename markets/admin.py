"""Back-office views of markets: currencies and markets are configured here; orders,
trades, candles and book snapshots are written only by the matcher and shown read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from exchange_site.admin_site import Decision, DecisionAdminMixin, ServiceSaveMixin
from exchange_site.errors import DomainError

from .models import BookSnapshot, Candle, Currency, Market, Order, Trade
from .precision import fmt
from .services_ops import MAX_FEE, market_halt, market_resume, market_set_fees, market_set_filters


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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        # Clients and stored rows know a currency by its code and amounts by its precision.
        return ["code", "precision"] if obj is not None else []


def _market_ops(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("markets.change_market"))


def _fee_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, min_value=Decimal(0), max_value=MAX_FEE, decimal_places=18, max_digits=36)


MARKET_DECISIONS = (
    Decision(
        name="halt",
        label="Halt",
        run=lambda actor, pk, data: market_halt(market_id=pk),
        allowed=_market_ops,
        available=lambda market, user: market.status == Market.Status.OPEN,
        question="Halt this market? New orders are refused (market_halted); resting orders stay until canceled.",
    ),
    Decision(
        name="resume",
        label="Resume",
        run=lambda actor, pk, data: market_resume(market_id=pk),
        allowed=_market_ops,
        available=lambda market, user: market.status == Market.Status.HALTED,
        question="Resume this market? It accepts orders again at once.",
    ),
    Decision(
        name="set_fees",
        label="Set fees",
        run=lambda actor, pk, data: market_set_fees(
            market_id=pk, maker_fee=data["maker_fee"], taker_fee=data["taker_fee"]
        ),
        allowed=_market_ops,
        fields=(("maker_fee", _fee_field("Maker fee rate")), ("taker_fee", _fee_field("Taker fee rate"))),
        question="Set the fee rates? Trades matched from the next batch on use them.",
    ),
)


class MarketForm(forms.ModelForm):
    class Meta:
        model = Market
        fields = (
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

    def _non_negative(self, name: str) -> Decimal:
        value = self.cleaned_data[name]
        if value is not None and value < 0:
            raise forms.ValidationError("Must be zero or more.")
        return value

    def clean_min_qty(self) -> Decimal:
        return self._non_negative("min_qty")

    def clean_min_notional(self) -> Decimal:
        return self._non_negative("min_notional")


@admin.register(Market)
class MarketAdmin(ServiceSaveMixin, DecisionAdminMixin, admin.ModelAdmin):
    """Markets: status and fees change through actions (``markets.services_ops``); tick and
    lot sizes only when the market is created (the matcher converts resting orders with them).
    """

    decisions = MARKET_DECISIONS
    form = MarketForm
    change_form_template = "admin/exchange/change_form_decisions.html"
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        if obj is None:
            return [*self.readonly_fields, "status"]
        return [
            *self.readonly_fields,
            "symbol",
            "base",
            "quote",
            "tick_size",
            "lot_size",
            "status",
            "maker_fee",
            "taker_fee",
        ]

    def save_model(self, request: HttpRequest, obj: Market, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        try:
            market_set_filters(market_id=obj.pk, min_qty=obj.min_qty, min_notional=obj.min_notional)
        except DomainError as exc:
            raise PermissionDenied(exc.message) from exc

    def decision_summary(self, obj: Market) -> str:
        return f"{obj.symbol}: {obj.status}, maker fee {fmt(obj.maker_fee)}, taker fee {fmt(obj.taker_fee)}"


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
