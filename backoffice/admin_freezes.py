"""Account freezes in the admin: freeze with the add form, unfreeze under four eyes, frozen accounts on the index."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from accounts.roles import can_freeze_accounts
from exchange_site.admin_base import Decision, DecisionAdminMixin, ProposalFormMixin, ServiceSaveMixin, reason_field
from exchange_site.errors import DomainError

from .freezes import (
    account_freeze,
    account_freeze_check,
    frozen_accounts,
    pending_unfreeze,
    unfreeze_approve,
    unfreeze_may_decide,
    unfreeze_reject,
    unfreeze_request,
)
from .models import AccountFreeze

Kind = AccountFreeze.Kind
Status = AccountFreeze.Status
MAX_FROZEN_LISTED = 50


def _may_ask_unfreeze(row: AccountFreeze, user: Any) -> bool:
    account = row.user
    return (
        row.kind == Kind.FREEZE
        and (account.trading_frozen or account.withdrawals_frozen)
        and user.pk != account.pk
        and pending_unfreeze(user_id=account.pk) is None
    )


FREEZE_DECISIONS = (
    Decision(
        name="unfreeze",
        label="Request unfreeze",
        run=lambda actor, pk, data: unfreeze_request(
            actor=actor, user_id=AccountFreeze.objects.get(pk=pk).user_id, reason=data["reason"]
        ),
        allowed=can_freeze_accounts,
        available=_may_ask_unfreeze,
        fields=(("reason", reason_field("Reason", required=True)),),
        question="Ask for this account's freeze to be lifted? A second staff member must approve it.",
    ),
    Decision(
        name="approve",
        label="Approve unfreeze",
        run=lambda actor, pk, data: unfreeze_approve(actor=actor, request_id=pk, comment=data["comment"]),
        allowed=can_freeze_accounts,
        available=lambda row, user: unfreeze_may_decide(request=row, actor=user),
        fields=(("comment", reason_field("Comment (optional)", required=False)),),
        question="Approve this unfreeze? The account may trade and withdraw again at once.",
    ),
    Decision(
        name="reject",
        label="Reject unfreeze",
        run=lambda actor, pk, data: unfreeze_reject(actor=actor, request_id=pk, reason=data["reason"]),
        allowed=can_freeze_accounts,
        available=lambda row, user: unfreeze_may_decide(request=row, actor=user),
        fields=(("reason", reason_field("Reason", required=True)),),
        question="Reject this unfreeze? The account stays frozen.",
    ),
)


class FreezeForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = AccountFreeze
        fields = ("user", "trading", "withdrawals", "reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["reason"] = account_freeze_check(
                actor=self.actor,
                user=data["user"],
                trading=data.get("trading", False),
                withdrawals=data.get("withdrawals", False),
                reason=data["reason"],
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(AccountFreeze)
class AccountFreezeAdmin(ServiceSaveMixin, ProposalFormMixin, DecisionAdminMixin, admin.ModelAdmin):
    """A freeze is the add form (applied at once); an unfreeze is asked for on it and decided by someone else."""

    decisions = FREEZE_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = (
        "id",
        "requested_at",
        "user",
        "kind",
        "trading",
        "withdrawals",
        "status",
        "requested_by",
        "decided_by",
    )
    list_select_related = ("user", "requested_by", "decided_by")
    list_filter = ("kind", "status", "trading", "withdrawals")
    search_fields = ("=id", "user__email", "requested_by__email", "reason")
    date_hierarchy = "requested_at"
    autocomplete_fields = ("user",)
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = (
        "user",
        "kind",
        "trading",
        "withdrawals",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    )

    add_form = FreezeForm

    def may_add(self, user: Any) -> bool:
        return can_freeze_accounts(user)

    def save_model(self, request: HttpRequest, obj: AccountFreeze, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        state = account_freeze(
            actor=request.user,
            user_id=obj.user_id,
            trading=obj.trading,
            withdrawals=obj.withdrawals,
            reason=obj.reason,
        )
        created = state.freeze
        if state.canceled_orders:
            self.message_user(request, f"{state.canceled_orders} open order(s) sent to the matcher for cancellation.")
        # The admin logs and redirects with ``obj``: let it be the row the service wrote.
        obj.pk = created.pk
        obj.status = created.status
        obj.requested_by = created.requested_by
        obj.requested_at = created.requested_at
        obj._state.adding = False

    def decision_summary(self, obj: AccountFreeze) -> str:
        scope = ", ".join(n for n, on in (("trading", obj.trading), ("withdrawals", obj.withdrawals)) if on)
        return f"{obj.kind} {obj.pk} of {obj.user} ({scope}), by {obj.requested_by}: {obj.reason[:80]}"

    def decision_notes(self, obj: AccountFreeze, user: Any) -> list[str]:
        if obj.kind == Kind.UNFREEZE and obj.status == Status.PENDING and user.pk in (obj.requested_by_id, obj.user_id):
            return ["You asked for this unfreeze (or it concerns you): another staff member must decide."]
        if obj.kind == Kind.FREEZE and pending_unfreeze(user_id=obj.user_id) is not None:
            return ["An unfreeze of this account waits for a decision (see the unfreeze requests)."]
        return []


def frozen_accounts_panel(request: HttpRequest, site_name: str) -> dict[str, Any]:
    """The frozen accounts, for staff who may see freezes (the admin index)."""
    user = request.user
    if not (user.has_perm("backoffice.view_accountfreeze") or can_freeze_accounts(user)):
        return {}
    changelist = reverse(f"{site_name}:backoffice_accountfreeze_changelist")
    return {
        "frozen_accounts": list(frozen_accounts()[:MAX_FROZEN_LISTED]),
        "frozen_accounts_url": changelist,
        "pending_unfreezes_url": changelist + "?kind__exact=unfreeze&status__exact=pending",
        "pending_unfreezes": AccountFreeze.objects.filter(kind=Kind.UNFREEZE, status=Status.PENDING).count(),
    }


admin.site.register_dashboard_panel(frozen_accounts_panel)
