"""API keys in the admin: compliance and back office see them (never a secret); back office can
disable one for good, with a reason that stays on the key and in the admin log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.roles import BACK_OFFICE, COMPLIANCE
from exchange_site.admin_base import Decision, DecisionAdminMixin, reason_field

from .models import ApiKey
from .services import api_key_disable_by_staff


def _in_role(user: Any, *roles: str) -> bool:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or user.groups.filter(name__in=roles).exists()


def may_view_keys(user: Any) -> bool:
    return _in_role(user, BACK_OFFICE, COMPLIANCE)


def may_disable_keys(user: Any) -> bool:
    return _in_role(user, BACK_OFFICE)


API_KEY_DECISIONS = (
    Decision(
        name="disable",
        label="Disable",
        run=lambda actor, pk, data: api_key_disable_by_staff(actor_id=actor.pk, key_id=pk, reason=data["reason"]),
        allowed=may_disable_keys,
        available=lambda key, user: key.enabled,
        fields=(("reason", reason_field("Reason", required=True)),),
        question="Disable this key for good? Every request signed with it is refused from now on; "
        "the trader cannot enable it again.",
    ),
)


@admin.register(ApiKey)
class ApiKeyAdmin(DecisionAdminMixin, admin.ModelAdmin):
    decisions = API_KEY_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = ("id", "user", "name", "type", "can_trade", "enabled", "created_at", "last_used_at")
    list_select_related = ("user",)
    list_filter = ("type", "enabled", "can_trade")
    search_fields = ("=id", "=api_key", "user__email", "name")
    show_full_result_count = False
    list_per_page = 50
    # The encrypted secret is never shown, not even encrypted.
    fields = readonly_fields = (
        "user",
        "name",
        "api_key",
        "type",
        "public_key",
        "can_trade",
        "ip_allowlist",
        "enabled",
        "disabled_by",
        "disabled_reason",
        "created_at",
        "last_used_at",
    )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_view_keys(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_view_keys(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def decision_summary(self, obj: ApiKey) -> str:
        return f"API key {obj.pk} '{obj.name}' of {obj.user} ({obj.api_key[:8]}…)"
