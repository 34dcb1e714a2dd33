"""The back-office page of a user, with their money: wallets, open orders, trades, withdrawals.

accounts' ``UserAdmin`` knows nothing of markets or wallets (they sit above it); this
module, high enough to see all three, registers the user page with these read-only
panels in its place. Each panel is bounded: one query each.
"""

from __future__ import annotations

import threading
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from accounts.roles import can_set_account_tier
from accounts.tiers import MAX_TIER, account_tier_set
from exchange_site.admin_base import Decision, DecisionAdminMixin, html_table
from markets.models import Order, Trade

from ..models import Wallet, Withdrawal, WithdrawalAddress
from ..whitelist import withdrawal_whitelist_state

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


def _whitelist_panel(user: User) -> str:
    state = withdrawal_whitelist_state(user=user)
    rows = WithdrawalAddress.objects.filter(user=user).select_related("currency").order_by("currency__code", "id")
    switch = html_table(
        ("whitelist asked", "from", "in force now"),
        [("on" if state.whitelist_enabled else "off", state.effective_from, "yes" if state.in_force else "no")],
    )
    addresses = html_table(
        ("currency", "address", "label", "added", "usable from"),
        ((a.currency.code, a.address, a.label, a.created_at, a.usable_from) for a in rows[:RECENT_ROWS]),
        empty="No whitelisted addresses.",
    )
    return switch + addresses


# The request of the decision being run, for the audit trail's IP (a Decision's run gets no request).
_deciding = threading.local()


def _set_tier(actor: User, pk: int, data: dict[str, Any]) -> User:
    user = User.objects.get(pk=pk)
    return account_tier_set(actor=actor, user=user, tier=data["tier"], request=getattr(_deciding, "request", None))


CUSTOMER_DECISIONS = (
    Decision(
        name="set_tier",
        label="Set tier",
        run=_set_tier,
        allowed=can_set_account_tier,
        fields=(("tier", forms.IntegerField(label="Verification tier", min_value=0, max_value=MAX_TIER)),),
        question="Set the verification tier? It decides the account's withdrawal limits; the change is recorded.",
    ),
)


class CustomerAdmin(DecisionAdminMixin, UserAdmin):
    decisions = CUSTOMER_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = (*UserAdmin.list_display, "tier")
    list_filter = (*UserAdmin.list_filter, "tier")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Verification", {"fields": ("tier",)}),
        ("Withdrawal whitelist", {"fields": ("whitelist",)}),
        # Read-only panels for back office and compliance.
        ("Wallets", {"fields": ("wallets",)}),
        ("Open orders", {"fields": ("open_orders",)}),
        (f"Recent trades (last {RECENT_ROWS})", {"fields": ("recent_trades",)}),
        (f"Withdrawals (last {RECENT_ROWS})", {"fields": ("withdrawals",)}),
    )
    readonly_fields = (
        *UserAdmin.readonly_fields,
        "tier",
        "whitelist",
        "wallets",
        "open_orders",
        "recent_trades",
        "withdrawals",
    )

    def _run(self, request: HttpRequest, decision: Decision, objects: Any, data: dict[str, Any]) -> None:
        _deciding.request = request
        try:
            super()._run(request, decision, objects, data)
        finally:
            _deciding.request = None

    @admin.display(description="whitelist")
    def whitelist(self, obj: User) -> str:
        return _whitelist_panel(obj)

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


admin.site.unregister(User)
admin.site.register(User, CustomerAdmin)
