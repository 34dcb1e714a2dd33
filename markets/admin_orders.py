"""Back-office pages of orders and order lists (OCO pairs): read-only, like everything the matcher writes.

Stop orders show their trigger state (waiting, triggered when, or closed without
triggering); OCO legs link to their list, and a list shows both legs. The site's CSV
export (the compliance role) carries every column, the new ones included.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from exchange_site.admin_base import ReadOnlyAdmin, html_table
from exchange_site.money import fmt

from .models import Order, OrderList

STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)


def trigger_state(order: Order) -> str:
    """Where a stop order stands: waiting for its price, triggered (when), or closed before triggering."""
    if order.type not in STOP_TYPES:
        return ""
    if order.triggered_at is not None:
        return f"triggered {order.triggered_at:%Y-%m-%d %H:%M:%S} UTC"
    if order.status in (Order.Status.NEW, Order.Status.UNTRIGGERED):
        return f"waiting for {fmt(order.stop_price)}" if order.stop_price is not None else "waiting"
    return "not triggered"


class TriggerFilter(admin.SimpleListFilter):
    title = "trigger state"
    parameter_name = "trigger"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Waiting (untriggered)"), ("triggered", "Triggered"), ("never", "Closed untriggered")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        stops = queryset.filter(type__in=STOP_TYPES)
        value = self.value()
        if value == "waiting":
            return stops.filter(triggered_at__isnull=True, status__in=(Order.Status.NEW, Order.Status.UNTRIGGERED))
        if value == "triggered":
            return stops.filter(triggered_at__isnull=False)
        if value == "never":
            return stops.filter(triggered_at__isnull=True, status__in=Order.CLOSED_STATUSES)
        return queryset


class OrderListFilter(admin.SimpleListFilter):
    title = "order list"
    parameter_name = "in_list"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "OCO leg"), ("no", "Single order")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(order_list__isnull=False)
        if self.value() == "no":
            return queryset.filter(order_list__isnull=True)
        return queryset


class AmendedFilter(admin.SimpleListFilter):
    title = "amended"
    parameter_name = "amended"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Amended"), ("no", "Never amended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(amended_at__isnull=self.value() == "no")
        return queryset


def _order_link(order_id: int) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse("admin:markets_order_change", args=[order_id]), order_id)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "market",
        "user",
        "side",
        "type",
        "time_in_force",
        "price",
        "stop_price",
        "quantity",
        "filled_quantity",
        "status",
        "trigger",
        "list_link",
        "expire_time",
        "amended_at",
        "created_at",
    ]
    list_filter = [
        "status",
        "type",
        "side",
        "time_in_force",
        TriggerFilter,
        OrderListFilter,
        AmendedFilter,
        "market",
    ]
    list_select_related = ["market", "user"]
    search_fields = ["=id", "client_order_id", "user__email", "=order_list__id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "market",
                    "user",
                    "client_order_id",
                    "side",
                    "type",
                    "time_in_force",
                    "post_only",
                    "self_trade_prevention",
                    "price",
                    "quantity",
                    "quote_quantity",
                ]
            },
        ),
        (
            "Stop, order list, expiry and amendment",
            {
                "fields": [
                    "stop_price",
                    "trigger_immediately",
                    "trigger",
                    "triggered_at",
                    "order_list",
                    "expire_time",
                    "amended_at",
                    "amend_quantity",
                    "amend_price",
                    "amend_requested_at",
                ]
            },
        ),
        (
            "Execution",
            {
                "fields": [
                    "status",
                    "filled_quantity",
                    "filled_quote",
                    "locked_amount",
                    "reject_reason",
                    "cancel_reason",
                    "cancel_requested_at",
                    "sequence",
                    "closed_sequence",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = ["trigger", "created_at", "updated_at"]

    @admin.display(description="trigger")
    def trigger(self, obj: Order) -> str:
        return trigger_state(obj)

    @admin.display(description="order list", ordering="order_list_id")
    def list_link(self, obj: Order) -> SafeString | str:
        if obj.order_list_id is None:
            return ""
        url = reverse("admin:markets_orderlist_change", args=[obj.order_list_id])
        return format_html('<a href="{}">OCO {}</a>', url, obj.order_list_id)


@admin.register(OrderList)
class OrderListAdmin(ReadOnlyAdmin):
    """OCO pairs: the list's state and both legs, each with its trigger state."""

    list_display = ["id", "kind", "market", "user", "status", "client_order_id", "leg_summary", "created_at"]
    list_filter = ["status", "kind", "market"]
    list_select_related = ["market", "user"]
    search_fields = ["=id", "client_order_id", "user__email", "=orders__id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["market", "user", "kind", "status", "client_order_id", "legs", "created_at", "updated_at"]
    readonly_fields = ["legs", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("orders")

    @staticmethod
    def _legs(obj: OrderList) -> list[Order]:
        return sorted(obj.orders.all(), key=lambda o: o.pk)

    @admin.display(description="legs")
    def leg_summary(self, obj: OrderList) -> str:
        return ", ".join(f"{o.pk} {o.type} {o.status}" for o in self._legs(obj))

    @admin.display(description="legs")
    def legs(self, obj: OrderList) -> SafeString:
        return html_table(
            ["order", "type", "side", "price", "stop price", "quantity", "filled", "status", "trigger", "reason"],
            (
                (
                    _order_link(o.pk),
                    o.type,
                    o.side,
                    o.price,
                    o.stop_price,
                    o.quantity,
                    o.filled_quantity,
                    o.status,
                    trigger_state(o),
                    o.cancel_reason or o.reject_reason,
                )
                for o in self._legs(obj)
            ),
            empty="No leg recorded.",
        )
