"""Withdrawals: the review queue and its decisions (four eyes, fresh one-time password)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.roles import can_review_withdrawals
from accounts.services import otp_verify
from exchange_site.admin_base import (
    Decision,
    DecisionAdminMixin,
    ReadOnlyAdmin,
    html_table,
    reason_field,
)
from exchange_site.four_eyes import AlreadyDecided, SelfApproval
from exchange_site.money import fmt

from ..models import LedgerEntry, Withdrawal, WithdrawalEvent
from ..selectors import balances_for_user
from ..withdrawals import (
    withdrawal_approve,
    withdrawal_decider_refusal,
    withdrawal_mark_sent,
    withdrawal_may_decide,
    withdrawal_reject,
)

# Nothing here saves a withdrawal or an approval itself: the buttons and list actions call
# the services of ``wallets.withdrawals`` (the same ones the back-office API calls), behind
# a confirmation page, and show only the decisions those services would accept.


# Decisions that let money leave: they need a one-time password typed moments ago, not
# only the one of the login (a session cookie left open, or stolen, is not enough).
FRESH_OTP_DECISIONS = frozenset({"approve", "sent"})
FRESH_OTP_SESSION_KEY = "exchange_fresh_otp_at"


def _otp_field() -> forms.CharField:
    return forms.CharField(
        label="One-time password (needed unless you typed one in the last few minutes)",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def staff_fresh_otp(request: HttpRequest, otp: str) -> bool:
    """Whether the staff member proved their second factor within ``ADMIN_FRESH_OTP_SECONDS``.

    A code given now is verified (and used up) and renews the window; without one, an
    earlier step-up in this session still counts while the window lasts. The login's own
    code does not. With ``ADMIN_REQUIRE_OTP`` off (local trials) there is nothing to ask.
    """
    if not settings.ADMIN_REQUIRE_OTP:
        return True
    now = time.time()
    if otp.strip():
        if not otp_verify(user=request.user, otp=otp):
            return False
        request.session[FRESH_OTP_SESSION_KEY] = now
        return True
    verified_at = request.session.get(FRESH_OTP_SESSION_KEY)
    return isinstance(verified_at, int | float) and 0 <= now - verified_at <= settings.ADMIN_FRESH_OTP_SECONDS


WITHDRAWAL_DECISIONS = (
    Decision(
        name="approve",
        label="Approve",
        run=lambda actor, pk, data: withdrawal_approve(actor=actor, withdrawal_id=pk, comment=data["comment"]),
        allowed=can_review_withdrawals,
        available=lambda w, user: withdrawal_may_decide(withdrawal=w, actor=user, decision="approve"),
        fields=(("comment", reason_field("Comment (optional)", required=False)), ("otp", _otp_field())),
        question="Approve this withdrawal? Your name and the time are recorded in its history.",
    ),
    Decision(
        name="reject",
        label="Reject",
        run=lambda actor, pk, data: withdrawal_reject(actor=actor, withdrawal_id=pk, reason=data["reason"]),
        allowed=can_review_withdrawals,
        available=lambda w, user: withdrawal_may_decide(withdrawal=w, actor=user, decision="reject"),
        fields=(("reason", reason_field("Reason (recorded in the history)", required=True)),),
        question="Reject this withdrawal? The locked funds return to the user's available balance.",
    ),
    Decision(
        name="sent",
        label="Mark sent",
        run=lambda actor, pk, data: withdrawal_mark_sent(actor=actor, withdrawal_id=pk, txid=data["txid"]),
        allowed=can_review_withdrawals,
        available=lambda w, user: withdrawal_may_decide(withdrawal=w, actor=user, decision="sent"),
        fields=(("txid", forms.CharField(label="Payout transaction id", max_length=128)), ("otp", _otp_field())),
        question="Record the payout? The amount and the fee leave the user's wallet; this cannot be undone.",
    ),
)

_STATUS_RANK = Case(
    When(status=Withdrawal.Status.PENDING_REVIEW, then=Value(0)),
    When(status=Withdrawal.Status.APPROVED, then=Value(1)),
    When(status=Withdrawal.Status.REQUESTED, then=Value(2)),
    default=Value(3),
)
RECENT_LEDGER = 20
EARLIER_WITHDRAWALS = 10


class WithdrawalEventInline(admin.TabularInline):
    """The approval history: shown on the withdrawal page, never added, edited or deleted."""

    model = WithdrawalEvent
    verbose_name = "history entry"
    verbose_name_plural = "approval history"
    fields = ("created_at", "actor", "action", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor").order_by("id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Withdrawal)
class WithdrawalAdmin(DecisionAdminMixin, ReadOnlyAdmin):
    decisions = WITHDRAWAL_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = (
        "id",
        "created_at",
        "user",
        "currency",
        "amount_display",
        "fee_display",
        "status",
        "approvals_display",
        "address",
    )
    list_select_related = ("user", "currency")
    list_filter = ("status", "currency", "required_approvals")
    search_fields = ("=id", "user__email", "address", "txid")
    sortable_by = ("id", "created_at", "amount_display", "status")
    date_hierarchy = "created_at"
    inlines = (WithdrawalEventInline,)
    readonly_fields = (
        "id",
        "user",
        "currency",
        "amount_display",
        "fee_display",
        "address",
        "status",
        "approvals_display",
        "txid",
        "reason",
        "created_at",
        "updated_at",
        "completed_at",
        "user_balances",
        "user_recent_ledger",
        "user_earlier_withdrawals",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "user",
                    ("currency", "amount_display", "fee_display"),
                    "address",
                    "status",
                    "approvals_display",
                    "txid",
                    "reason",
                    ("created_at", "updated_at", "completed_at"),
                )
            },
        ),
        ("User's balances", {"fields": ("user_balances",)}),
        ("User's recent ledger", {"fields": ("user_recent_ledger",)}),
        ("User's earlier withdrawals", {"fields": ("user_earlier_withdrawals",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        approvals = (
            WithdrawalEvent.objects.filter(withdrawal=OuterRef("pk"), action=WithdrawalEvent.Action.APPROVE)
            .order_by()
            .values("withdrawal")
            .annotate(n=Count("id"))
            .values("n")
        )
        # Annotate before ordering (ModelAdmin.get_queryset orders first): the ordering uses them.
        qs = self.model._default_manager.get_queryset().annotate(
            _status_rank=_STATUS_RANK,
            # For ordering only (approximate on SQLite, where money is text); never for arithmetic.
            _amount_num=Cast("amount", output_field=DecimalField(max_digits=36, decimal_places=18)),
            _approvals=Coalesce(Subquery(approvals, output_field=IntegerField()), 0),
        )
        return qs.order_by(*self.get_ordering(request))

    def _run(self, request: HttpRequest, decision: Decision, objects: Iterable[Model], data: dict[str, Any]) -> None:
        # The code never reaches the service call or the admin log line.
        otp = str(data.get("otp") or "")
        data = {k: v for k, v in data.items() if k != "otp"}
        if decision.name in FRESH_OTP_DECISIONS and not staff_fresh_otp(request, otp):
            self.message_user(
                request,
                "Type the current code of your authenticator (or a backup code) to confirm this decision: "
                "a fresh one-time password is required (fresh_otp_required). Nothing was changed.",
                messages.ERROR,
            )
            return
        super()._run(request, decision, objects, data)

    def get_ordering(self, request: HttpRequest) -> Sequence[str]:
        # Waiting work first (pending review, then approved but unsent), oldest first, then the biggest.
        return ("_status_rank", "created_at", "-_amount_num")

    @admin.display(description="amount", ordering="_amount_num")
    def amount_display(self, obj: Withdrawal) -> str | None:
        return fmt(obj.amount)

    @admin.display(description="fee")
    def fee_display(self, obj: Withdrawal) -> str | None:
        return fmt(obj.fee)

    @admin.display(description="approvals")
    def approvals_display(self, obj: Withdrawal) -> str:
        count = getattr(obj, "_approvals", None)
        if count is None:
            count = obj.events.filter(action=WithdrawalEvent.Action.APPROVE).count()
        return f"{count} of {obj.required_approvals}"

    @admin.display(description="balances")
    def user_balances(self, obj: Withdrawal) -> str:
        rows = balances_for_user(user=obj.user)
        return html_table(
            ("currency", "balance", "locked", "available"),
            ((r.currency, r.balance, r.locked, r.available) for r in rows if r.balance or r.locked),
            empty="No funds.",
        )

    @admin.display(description=f"last {RECENT_LEDGER} entries")
    def user_recent_ledger(self, obj: Withdrawal) -> str:
        entries = LedgerEntry.objects.filter(user_id=obj.user_id).select_related("currency").order_by("-id")
        return html_table(
            ("time", "currency", "kind", "amount", "locked change", "balance after", "locked after", "reference"),
            (
                (
                    e.created_at,
                    e.currency.code,
                    e.kind,
                    e.amount,
                    e.locked_change,
                    e.balance_after,
                    e.locked_after,
                    e.reference,
                )
                for e in entries[:RECENT_LEDGER]
            ),
        )

    @admin.display(description=f"last {EARLIER_WITHDRAWALS}")
    def user_earlier_withdrawals(self, obj: Withdrawal) -> str:
        rows = (
            Withdrawal.objects.filter(user_id=obj.user_id)
            .exclude(pk=obj.pk)
            .select_related("currency")
            .order_by("-id")[:EARLIER_WITHDRAWALS]
        )
        return html_table(
            ("id", "time", "currency", "amount", "status", "txid"),
            (
                (
                    format_html('<a href="{}">{}</a>', reverse("admin:wallets_withdrawal_change", args=[w.pk]), w.pk),
                    w.created_at,
                    w.currency.code,
                    w.amount,
                    w.status,
                    w.txid,
                )
                for w in rows
            ),
        )

    def decision_summary(self, obj: Withdrawal) -> str:
        return (
            f"Withdrawal {obj.pk}: {fmt(obj.amount)} {obj.currency} (+ fee {fmt(obj.fee)}) to {obj.address} "
            f"for {obj.user}, {obj.status}, approvals {self.approvals_display(obj)}"
        )

    def decision_notes(self, obj: Withdrawal, user: Any) -> list[str]:
        notes = []
        refusal = withdrawal_decider_refusal(withdrawal=obj, actor=user, decision="approve")
        if isinstance(refusal, SelfApproval):
            notes.append("This is your own withdrawal: you cannot decide on it.")
        elif isinstance(refusal, AlreadyDecided):
            notes.append("You already decided on this withdrawal: a second decision must come from someone else.")
        if obj.status == Withdrawal.Status.PENDING_REVIEW and obj.required_approvals > 1:
            notes.append(
                f"Needs {obj.required_approvals} distinct approvers (at or above the dual-approval threshold)."
            )
        return notes


@admin.register(WithdrawalEvent)
class WithdrawalEventAdmin(ReadOnlyAdmin):
    """Every approval and transition of every withdrawal, for compliance review."""

    list_display = ("id", "created_at", "withdrawal", "actor", "action", "from_status", "to_status", "reason")
    list_select_related = ("withdrawal", "actor")
    list_filter = ("action", "to_status")
    search_fields = ("=withdrawal__id", "actor__email", "reason")
    date_hierarchy = "created_at"
