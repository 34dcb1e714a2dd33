"""Withdrawal controls in the back office: whitelisted addresses (read-only) and the tier limits.

Traders manage their whitelist themselves (password and one-time password), so staff
only look at it. Tier limits are edited here; every save and delete goes through
``wallets.tier_limits``, which records the change in the staff audit trail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from exchange_site.admin_base import ReadOnlyAdmin, ServiceSaveMixin

from ..models import TierLimit, WithdrawalAddress, WithdrawalWhitelist
from ..tier_limits import tier_limit_delete, tier_limit_set


@admin.register(WithdrawalAddress)
class WithdrawalAddressAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "currency", "address", "label", "created_at", "usable_from")
    list_select_related = ("user", "currency")
    list_filter = ("currency",)
    search_fields = ("=user__email", "=address")
    date_hierarchy = "created_at"


@admin.register(WithdrawalWhitelist)
class WithdrawalWhitelistAdmin(ReadOnlyAdmin):
    list_display = ("user", "enabled", "effective_from", "updated_at")
    list_select_related = ("user",)
    list_filter = ("enabled",)
    search_fields = ("=user__email",)


@admin.register(TierLimit)
class TierLimitAdmin(ServiceSaveMixin, admin.ModelAdmin):
    """The 24-hour limits per tier; the reference currency's row caps every priced currency together."""

    list_display = ("tier", "currency", "limit_24h", "updated_at")
    list_select_related = ("currency",)
    list_filter = ("tier",)
    search_fields = ("=currency__code",)
    ordering = ("tier", "currency__code")
    autocomplete_fields = ("currency",)
    fields = ("tier", "currency", "limit_24h", "updated_at")
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: TierLimit | None = None) -> tuple[str, ...]:
        # A row names one tier and currency for good; a different pair is another row.
        return ("tier", "currency", "updated_at") if obj is not None else ("updated_at",)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletions one by one, each recorded
        return actions

    def save_model(self, request: HttpRequest, obj: TierLimit, form: Any, change: bool) -> None:
        row = tier_limit_set(
            actor=request.user, tier=obj.tier, currency=obj.currency, limit_24h=obj.limit_24h, request=request
        )
        obj.pk, obj.updated_at = row.pk, row.updated_at

    def delete_model(self, request: HttpRequest, obj: TierLimit) -> None:
        tier_limit_delete(actor=request.user, tier_limit_id=obj.pk, request=request)

    @method_decorator(csrf_protect)
    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        # As for the change form: the service's durable transaction is the one that counts.
        return self._delete_view(request, object_id, extra_context)
