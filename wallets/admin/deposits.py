"""Deposits: custody-credited ones read-only, manual ones proposed and decided by two people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.roles import APPROVE_MANUAL_DEPOSIT, PROPOSE_MANUAL_DEPOSIT
from exchange_site.admin_base import (
    Decision,
    DecisionAdminMixin,
    ReadOnlyAdmin,
    ServiceSaveMixin,
    reason_field,
)
from exchange_site.errors import DomainError
from exchange_site.money import fmt

from ..manual_deposits import (
    manual_deposit_approve,
    manual_deposit_check,
    manual_deposit_decider_refusal,
    manual_deposit_propose,
    manual_deposit_reject,
)
from ..models import Deposit, ManualDeposit


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "currency",
        "amount",
        "txid",
        "confirmations",
        "status",
        "source",
        "credited_at",
    )
    list_select_related = ("user", "currency")
    list_filter = ("status", "source", "currency")
    search_fields = ("user__email", "txid", "address")
    sortable_by = ("id", "created_at", "confirmations", "status", "credited_at")
    date_hierarchy = "created_at"


def _can_decide_manual(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(APPROVE_MANUAL_DEPOSIT))


MANUAL_DEPOSIT_DECISIONS = (
    Decision(
        name="approve",
        label="Approve and credit",
        run=lambda actor, pk, data: manual_deposit_approve(actor=actor, manual_deposit_id=pk, comment=data["comment"]),
        allowed=_can_decide_manual,
        available=lambda proposal, user: manual_deposit_decider_refusal(proposal=proposal, actor=user) is None,
        fields=(("comment", reason_field("Comment (optional)", required=False)),),
        question="Approve this manual deposit? The user's wallet is credited at once.",
    ),
    Decision(
        name="reject",
        label="Reject",
        run=lambda actor, pk, data: manual_deposit_reject(actor=actor, manual_deposit_id=pk, reason=data["reason"]),
        allowed=_can_decide_manual,
        available=lambda proposal, user: manual_deposit_decider_refusal(proposal=proposal, actor=user) is None,
        fields=(("reason", reason_field("Reason", required=True)),),
        question="Reject this manual deposit? Nothing is credited.",
    ),
)


class ManualDepositProposeForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = ManualDeposit
        fields = ("user", "currency", "amount", "reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["reason"] = manual_deposit_check(
                actor=self.actor,
                user=data["user"],
                currency=data["currency"],
                amount=data["amount"],
                reason=data["reason"],
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


@admin.register(ManualDeposit)
class ManualDepositAdmin(ServiceSaveMixin, DecisionAdminMixin, ReadOnlyAdmin):
    """Proposed by one back-office member (the add form), approved or rejected by another."""

    decisions = MANUAL_DEPOSIT_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = (
        "id",
        "proposed_at",
        "user",
        "currency",
        "amount_display",
        "status",
        "proposed_by",
        "decided_by",
        "decided_at",
    )
    list_select_related = ("user", "currency", "proposed_by", "decided_by")
    list_filter = ("status", "currency")
    search_fields = ("=id", "user__email", "proposed_by__email", "reason")
    sortable_by = ("id", "proposed_at", "status", "decided_at")
    date_hierarchy = "proposed_at"
    autocomplete_fields = ("user", "currency")
    readonly_fields = (
        "user",
        "currency",
        "amount_display",
        "reason",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "deposit",
    )

    @admin.display(description="amount")
    def amount_display(self, obj: ManualDeposit) -> str | None:
        return fmt(obj.amount)

    def has_add_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(PROPOSE_MANUAL_DEPOSIT))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        return self.readonly_fields if obj is not None else ManualDepositProposeForm.Meta.fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = type("ProposeForm", (ManualDepositProposeForm,), {"actor": request.user})
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: ManualDeposit, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        created = manual_deposit_propose(
            actor=request.user, user=obj.user, currency=obj.currency, amount=obj.amount, reason=obj.reason
        )
        # The admin logs and redirects with ``obj``: let it be the row the service wrote.
        obj.pk = created.pk
        obj.status = created.status
        obj.proposed_by = created.proposed_by
        obj.proposed_at = created.proposed_at
        obj._state.adding = False

    def decision_summary(self, obj: ManualDeposit) -> str:
        return (
            f"Manual deposit {obj.pk}: {fmt(obj.amount)} {obj.currency} to {obj.user}, proposed by "
            f"{obj.proposed_by} ({obj.reason[:80]})"
        )

    def decision_notes(self, obj: ManualDeposit, user: Any) -> list[str]:
        if obj.status == ManualDeposit.Status.PROPOSED and user.pk in (obj.proposed_by_id, obj.user_id):
            return ["You proposed this credit (or receive it): another back-office member must decide."]
        return []
