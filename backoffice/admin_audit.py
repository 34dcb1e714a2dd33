"""The staff audit trail in the admin: read-only, filtered by actor, action and date, exported to CSV."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from accounts.models import StaffAction, User
from accounts.roles import can_view_staff_actions
from exchange_site.admin_base import ReadOnlyAdmin

MAX_ACTORS_LISTED = 200


class ActorFilter(admin.SimpleListFilter):
    """Staff members by email (the failed logins of unknown emails by their search box)."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        staff = User.objects.filter(is_staff=True).order_by("email").values_list("pk", "email")
        return [(str(pk), email) for pk, email in staff[:MAX_ACTORS_LISTED]]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset.filter(actor_id=int(value)) if value and value.isdigit() else queryset


def _json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str)) if value else "-"


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdmin):
    """Who did what to which object, before and after, when and from where; nobody edits or deletes a row."""

    list_display = ("at", "actor_email", "action", "object_type", "object_id", "ip")
    list_filter = (ActorFilter, "action", ("at", admin.DateFieldListFilter))
    search_fields = ("actor_email", "=action", "=object_id")
    date_hierarchy = "at"
    fields = (
        "at",
        "actor",
        "actor_email",
        "action",
        "object_type",
        "object_id",
        "before_display",
        "after_display",
        "ip",
    )
    readonly_fields = fields
    list_per_page = 100

    @admin.display(description="before")
    def before_display(self, obj: StaffAction) -> str:
        return _json(obj.before)

    @admin.display(description="after")
    def after_display(self, obj: StaffAction) -> str:
        return _json(obj.after)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view_staff_actions(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view_staff_actions(request.user)
