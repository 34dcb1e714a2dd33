"""Admin for the email-based User (no username, first or last name)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from exchange_site.admin_base import (
    Decision,
    DecisionAdminMixin,
    ProposalFormMixin,
    ReadOnlyAdmin,
    ServiceSaveMixin,
    reason_field,
)
from exchange_site.errors import DomainError

from .models import TwoFactorReset, User
from .roles import can_reset_two_factor
from .two_factor_resets import (
    two_factor_reset_approve,
    two_factor_reset_check,
    two_factor_reset_may_decide,
    two_factor_reset_propose,
    two_factor_reset_reject,
)


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "is_system", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    # The fee account is created by code; flipping is_system by hand would let it log in or
    # lock a trader out.
    readonly_fields = ("is_system", "last_login", "date_joined")
    list_display = ("email", "is_active", "is_staff", "is_system", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "is_system", "groups")
    search_fields = ("email",)
    ordering = ("email",)
    filter_horizontal = ("groups",)
    show_full_result_count = False


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """The admin log (who changed or decided what), read-only for compliance review."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag", "change_message")
    list_select_related = ("user", "content_type")
    list_filter = ("action_flag", "content_type")
    search_fields = ("user__email", "object_repr", "object_id")
    date_hierarchy = "action_time"


# -- staff-assisted 2FA reset (four eyes) -----------------------------------------------


TWO_FACTOR_RESET_DECISIONS = (
    Decision(
        name="approve",
        label="Approve",
        run=lambda actor, pk, data: two_factor_reset_approve(actor=actor, reset_id=pk, comment=data["comment"]),
        allowed=can_reset_two_factor,
        available=lambda reset, user: two_factor_reset_may_decide(reset=reset, actor=user),
        fields=(("comment", reason_field("Comment (optional)", required=False)),),
        question=(
            "Approve this reset? The user's authenticator and backup codes are deleted and every session of "
            "theirs ends; they log in with the password alone and should enrol again at once."
        ),
    ),
    Decision(
        name="reject",
        label="Reject",
        run=lambda actor, pk, data: two_factor_reset_reject(actor=actor, reset_id=pk, reason=data["reason"]),
        allowed=can_reset_two_factor,
        available=lambda reset, user: two_factor_reset_may_decide(reset=reset, actor=user),
        fields=(("reason", reason_field("Reason", required=True)),),
        question="Reject this reset? The user's two-factor authentication stays as it is.",
    ),
)


class TwoFactorResetProposeForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = TwoFactorReset
        fields = ("user", "reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["reason"] = two_factor_reset_check(actor=self.actor, user=data["user"], reason=data["reason"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(TwoFactorReset)
class TwoFactorResetAdmin(ServiceSaveMixin, ProposalFormMixin, DecisionAdminMixin, admin.ModelAdmin):
    """Proposed by one staff member (the add form), approved or rejected by another; never edited."""

    decisions = TWO_FACTOR_RESET_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = ("id", "proposed_at", "user", "status", "proposed_by", "decided_by", "decided_at")
    list_select_related = ("user", "proposed_by", "decided_by")
    list_filter = ("status",)
    search_fields = ("=id", "user__email", "proposed_by__email", "reason")
    date_hierarchy = "proposed_at"
    autocomplete_fields = ("user",)
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = (
        "user",
        "reason",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    )

    add_form = TwoFactorResetProposeForm

    def may_add(self, user: Any) -> bool:
        return can_reset_two_factor(user)

    def save_model(self, request: HttpRequest, obj: TwoFactorReset, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        created = two_factor_reset_propose(actor=request.user, user=obj.user, reason=obj.reason)
        # The admin logs and redirects with ``obj``: let it be the row the service wrote.
        obj.pk = created.pk
        obj.status = created.status
        obj.proposed_by = created.proposed_by
        obj.proposed_at = created.proposed_at
        obj._state.adding = False

    def decision_summary(self, obj: TwoFactorReset) -> str:
        return f"2FA reset {obj.pk} of {obj.user}, proposed by {obj.proposed_by} ({obj.reason[:80]})"

    def decision_notes(self, obj: TwoFactorReset, user: Any) -> list[str]:
        if obj.status == TwoFactorReset.Status.PROPOSED and user.pk in (obj.proposed_by_id, obj.user_id):
            return ["You proposed this reset (or it concerns you): another staff member must decide."]
        return []
