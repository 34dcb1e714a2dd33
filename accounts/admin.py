"""Admin for the email-based User (no username, first or last name)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from exchange_site.admin_site import html_table
from markets.models import Order, Trade
from wallets.models import Wallet, Withdrawal

from .models import User


def _unique_email(form: forms.ModelForm) -> str:
    """Store emails in lower case, as registration does, so logins match."""
    email = form.cleaned_data["email"].strip().lower()
    if User.objects.filter(email=email).exclude(pk=form.instance.pk).exists():
        raise forms.ValidationError(form.instance.unique_error_message(User, ["email"]))
    return email


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        return _unique_email(self)


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _unique_email(self)


# -- the back-office view of a user (read-only panels) ----------------------------------

RECENT_ROWS = 20


def _wallets_panel(user: User) -> str:
    wallets = Wallet.objects.filter(user=user).select_related("currency").order_by("currency__code")
    return html_table(
        ("currency", "balance", "locked", "available", "updated"),
        ((w.currency.code, w.balance, w.locked, w.available, w.updated_at) for w in wallets),
        empty="No wallets.",
    )


def _open_orders_panel(user: User) -> str:
    orders = Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES).select_related("market").order_by("-id")
    return html_table(
        ("id", "market", "side", "type", "price", "quantity", "filled", "status", "created"),
        (
            (o.pk, o.market.symbol, o.side, o.type, o.price, o.quantity, o.filled_quantity, o.status, o.created_at)
            for o in orders[:RECENT_ROWS]
        ),
        empty="No open orders.",
    )


def _recent_trades_panel(user: User) -> str:
    trades = Trade.objects.filter(Q(maker_user=user) | Q(taker_user=user)).select_related("market").order_by("-id")
    return html_table(
        ("id", "market", "side", "role", "price", "quantity", "time"),
        (
            (
                t.pk,
                t.market.symbol,
                t.taker_side if t.taker_user_id == user.pk else ("sell" if t.taker_side == "buy" else "buy"),
                "taker" if t.taker_user_id == user.pk else "maker",
                t.price,
                t.quantity,
                t.created_at,
            )
            for t in trades[:RECENT_ROWS]
        ),
        empty="No trades.",
    )


def _withdrawals_panel(user: User) -> str:
    rows = Withdrawal.objects.filter(user=user).select_related("currency").order_by("-id")
    return html_table(
        ("id", "time", "currency", "amount", "fee", "status", "txid"),
        (
            (
                format_html('<a href="{}">{}</a>', reverse("admin:wallets_withdrawal_change", args=[w.pk]), w.pk),
                w.created_at,
                w.currency.code,
                w.amount,
                w.fee,
                w.status,
                w.txid,
            )
            for w in rows[:RECENT_ROWS]
        ),
        empty="No withdrawals.",
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "is_system", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        # Read-only panels for back office and compliance (bounded: one query each).
        ("Wallets", {"fields": ("wallets",)}),
        ("Open orders", {"fields": ("open_orders",)}),
        (f"Recent trades (last {RECENT_ROWS})", {"fields": ("recent_trades",)}),
        (f"Withdrawals (last {RECENT_ROWS})", {"fields": ("withdrawals",)}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    # The fee account is created by code; flipping is_system by hand would let it log in or
    # lock a trader out.
    readonly_fields = (
        "is_system",
        "last_login",
        "date_joined",
        "wallets",
        "open_orders",
        "recent_trades",
        "withdrawals",
    )
    list_display = ("email", "is_active", "is_staff", "is_system", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "is_system", "groups")
    search_fields = ("email",)
    ordering = ("email",)
    filter_horizontal = ("groups",)
    show_full_result_count = False

    @admin.display(description="wallets")
    def wallets(self, obj: User) -> str:
        return _wallets_panel(obj)

    @admin.display(description="open orders")
    def open_orders(self, obj: User) -> str:
        return _open_orders_panel(obj)

    @admin.display(description="recent trades")
    def recent_trades(self, obj: User) -> str:
        return _recent_trades_panel(obj)

    @admin.display(description="withdrawals")
    def withdrawals(self, obj: User) -> str:
        return _withdrawals_panel(obj)


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """The admin log (who changed or decided what), read-only for compliance review."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag", "change_message")
    list_select_related = ("user", "content_type")
    list_filter = ("action_flag", "content_type")
    search_fields = ("user__email", "object_repr", "object_id")
    date_hierarchy = "action_time"
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
