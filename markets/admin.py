"""Back-office views of markets: currencies and markets are configured here, through the
settings services (validated, recorded, four eyes for weakening changes); orders, trades,
candles, book snapshots and the settings history are shown read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.safestring import SafeString

from accounts.roles import can_approve_setting_changes, can_change_market_settings
from exchange_site.admin_base import (
    Decision,
    DecisionAdminMixin,
    ReadOnlyAdmin,
    ServiceSaveMixin,
    html_table,
    reason_field,
)
from exchange_site.errors import DomainError
from exchange_site.money import fmt

from . import admin_orders  # noqa: F401  (registers the order and order-list pages)
from .models import BookSnapshot, Candle, Currency, Market, SettingChange, SettingProposal, Trade
from .selectors import ticker_list
from .services_ops import market_halt, market_resume, market_set_fees
from .services_settings import (
    CURRENCY_CREATE_FIELDS,
    CURRENCY_FIELDS,
    MARKET_CREATE_FIELDS,
    SettingsOutcome,
    currency_create,
    currency_update,
    market_create,
    market_update,
    setting_proposal_approve,
    setting_proposal_reject,
)

HISTORY_ROWS = 50


def _market_ops(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("markets.change_market"))


def _reason_field() -> forms.CharField:
    return forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Recorded in the settings history.",
    )


class SettingsAdminMixin(ServiceSaveMixin):
    """Currency and market pages: ``save_model`` calls the settings services, never ``save()``.

    The model form already ran the model's validation (``clean`` and constraints); the
    service validates again under the row lock, records the change and turns a weakening
    change into a proposal for a second staff member.
    """

    create_fields: Sequence[str] = ()
    change_fields: Sequence[str] = ()

    def create(self, actor: Any, values: dict[str, Any], reason: str) -> Any:
        raise NotImplementedError

    def update(self, actor: Any, pk: int, changes: dict[str, Any], reason: str) -> SettingsOutcome:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        reason = data.get("change_reason", "")
        try:
            if not change:
                created = self.create(request.user, {f: data[f] for f in self.create_fields if f in data}, reason)
                obj.pk = created.pk
                return
            changes = {f: data[f] for f in self.change_fields if f in data and f in form.changed_data}
            outcome = self.update(request.user, obj.pk, changes, reason)
        except DomainError as exc:
            request._settings_error = True  # type: ignore[attr-defined]
            self.message_user(request, f"Not saved: {exc.message} ({exc.code})", messages.ERROR)
            return
        if outcome.admin_notice:
            self.message_user(request, f"{obj}: {outcome.admin_notice}", messages.WARNING)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        if getattr(request, "_settings_error", False):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if getattr(request, "_settings_error", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "_settings_error", False):
            return None
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "_settings_error", False):
            return None
        return super().log_change(request, obj, message)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Orders, wallets and the history refer to them; switch a currency or market off instead.
        return False

    @admin.display(description="Settings history (latest first)")
    def settings_history(self, obj: Any) -> SafeString:
        rows = (
            SettingChange.objects.filter(**{self.model._meta.model_name: obj})
            .select_related("actor")
            .order_by("-id")[:HISTORY_ROWS]
        )
        return html_table(
            ["when", "who", "action", "field", "before", "after", "reason"],
            (
                (r.created_at, r.actor.email if r.actor else "system", r.action, r.field, r.before, r.after, r.reason)
                for r in rows
            ),
            empty="No change recorded.",
        )

    @admin.display(description="Proposals waiting for a second person")
    def pending_proposals(self, obj: Any) -> SafeString:
        rows = (
            SettingProposal.objects.filter(**{self.model._meta.model_name: obj}, status=SettingProposal.Status.PENDING)
            .select_related("proposed_by")
            .order_by("id")
        )
        return html_table(
            ["id", "field", "before", "after", "proposed by", "when", "reason"],
            ((p.pk, p.field, p.before, p.after, p.proposed_by.email, p.created_at, p.reason) for p in rows),
            empty="None.",
        )


class CurrencyForm(forms.ModelForm):
    change_reason = _reason_field()

    class Meta:
        model = Currency
        fields = CURRENCY_CREATE_FIELDS


@admin.register(Currency)
class CurrencyAdmin(SettingsAdminMixin, admin.ModelAdmin):
    """Currencies: created and changed through ``markets.services_settings`` (validated, recorded)."""

    form = CurrencyForm
    create_fields = CURRENCY_CREATE_FIELDS
    change_fields = CURRENCY_FIELDS
    list_display = [
        "code",
        "name",
        "precision",
        "withdrawal_fee",
        "min_withdrawal",
        "dual_approval_threshold",
        "min_confirmations",
        "deposits_enabled",
        "withdrawals_enabled",
    ]
    list_filter = ["deposits_enabled", "withdrawals_enabled"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        # Clients and stored rows know a currency by its code and amounts by its precision.
        if obj is None:
            return []
        return ["code", "precision", "pending_proposals", "settings_history"]

    def create(self, actor: Any, values: dict[str, Any], reason: str) -> Any:
        return currency_create(actor=actor, values=values, reason=reason)

    def update(self, actor: Any, pk: int, changes: dict[str, Any], reason: str) -> SettingsOutcome:
        return currency_update(actor=actor, currency_id=pk, changes=changes, reason=reason)


def _fee_field(label: str) -> forms.DecimalField:
    # The model and the service enforce 0..MAX_TRADING_FEE; the form only parses.
    return forms.DecimalField(label=label, decimal_places=18, max_digits=36)


MARKET_DECISIONS = (
    Decision(
        name="halt",
        label="Halt",
        run=lambda actor, pk, data: market_halt(
            market_id=pk, actor=actor, reason=data["reason"], cancel_queued=data["cancel_queued"]
        ),
        allowed=_market_ops,
        available=lambda market, user: market.status == Market.Status.OPEN,
        fields=(
            (
                "cancel_queued",
                forms.BooleanField(
                    label="Also cancel the orders queued for matching (their funds are released)", required=False
                ),
            ),
            ("reason", reason_field("Reason (recorded in the settings history)", required=False)),
        ),
        question=(
            "Halt this market? It matches nothing: new orders are refused (market_halted), queued orders wait"
            " (or are canceled), resting orders stay until their owners cancel them."
        ),
    ),
    Decision(
        name="resume",
        label="Resume",
        run=lambda actor, pk, data: market_resume(market_id=pk, actor=actor, reason=data["reason"]),
        allowed=_market_ops,
        available=lambda market, user: market.status == Market.Status.HALTED,
        fields=(("reason", reason_field("Reason (recorded in the settings history)", required=False)),),
        question="Resume this market? It accepts orders again and matches the queued ones in order.",
    ),
    Decision(
        name="set_fees",
        label="Set fees",
        run=lambda actor, pk, data: market_set_fees(
            actor=actor, market_id=pk, maker_fee=data["maker_fee"], taker_fee=data["taker_fee"], reason=data["reason"]
        ),
        allowed=_market_ops,
        fields=(
            ("maker_fee", _fee_field("Maker fee rate")),
            ("taker_fee", _fee_field("Taker fee rate")),
            ("reason", reason_field("Reason (recorded in the settings history)", required=False)),
        ),
        question=(
            "Set the fee rates? Trades matched from the next batch on use them; a lowered rate waits for a"
            " second staff member's approval."
        ),
    ),
)


class MarketForm(forms.ModelForm):
    change_reason = _reason_field()

    class Meta:
        model = Market
        fields = MARKET_CREATE_FIELDS


@admin.register(Market)
class MarketAdmin(SettingsAdminMixin, DecisionAdminMixin, admin.ModelAdmin):
    """Markets: created and filtered through ``markets.services_settings``; status and fees change
    through actions (``markets.services_ops``); tick and lot sizes only when the market is created
    (the matcher converts resting orders with them).
    """

    decisions = MARKET_DECISIONS
    form = MarketForm
    create_fields = MARKET_CREATE_FIELDS
    change_fields = ("min_qty", "min_notional")
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = [
        "symbol",
        "base",
        "quote",
        "status",
        "tick_size",
        "lot_size",
        "min_qty",
        "min_notional",
        "maker_fee",
        "taker_fee",
        "last_sequence",
    ]
    list_filter = ["status", "quote"]
    list_select_related = ["base", "quote"]
    search_fields = ["symbol", "base__code", "quote__code"]
    autocomplete_fields = ["base", "quote"]
    # The sequence belongs to the matcher.
    readonly_fields = ["last_sequence", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        if obj is None:
            return [*self.readonly_fields, "status"]
        return [
            *self.readonly_fields,
            "symbol",
            "base",
            "quote",
            "tick_size",
            "lot_size",
            "status",
            "maker_fee",
            "taker_fee",
            "pending_proposals",
            "settings_history",
        ]

    def create(self, actor: Any, values: dict[str, Any], reason: str) -> Any:
        return market_create(actor=actor, values=values, reason=reason)

    def update(self, actor: Any, pk: int, changes: dict[str, Any], reason: str) -> SettingsOutcome:
        return market_update(actor=actor, market_id=pk, changes=changes, reason=reason)

    def decision_summary(self, obj: Market) -> str:
        return f"{obj.symbol}: {obj.status}, maker fee {fmt(obj.maker_fee)}, taker fee {fmt(obj.taker_fee)}"


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "market",
        "sequence",
        "taker_side",
        "price",
        "quantity",
        "quote_quantity",
        "maker_user",
        "taker_user",
        "created_at",
    ]
    list_filter = ["market", "taker_side"]
    list_select_related = ["market", "maker_user", "taker_user"]
    search_fields = ["=id", "=maker_order__id", "=taker_order__id", "maker_user__email", "taker_user__email"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin):
    list_display = ["market", "open_time", "open", "high", "low", "close", "volume", "trade_count"]
    list_filter = ["market"]
    list_select_related = ["market"]
    date_hierarchy = "open_time"
    show_full_result_count = False


@admin.register(BookSnapshot)
class BookSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["market", "sequence", "updated_at"]
    list_select_related = ["market"]


@admin.register(SettingChange)
class SettingChangeAdmin(ReadOnlyAdmin):
    """The append-only settings history: who changed which setting of which currency or market."""

    list_display = ["id", "created_at", "actor", "action", "currency", "market", "field", "before", "after", "reason"]
    list_filter = ["action", "field"]
    list_select_related = ["actor", "currency", "market"]
    search_fields = ["=id", "field", "actor__email", "currency__code", "market__symbol"]
    date_hierarchy = "created_at"
    show_full_result_count = False


def _may_approve(proposal: SettingProposal, user: Any) -> bool:
    return proposal.status == SettingProposal.Status.PENDING and proposal.proposed_by_id != user.pk


SETTING_DECISIONS = (
    Decision(
        name="approve",
        label="Approve",
        run=lambda actor, pk, data: setting_proposal_approve(actor=actor, proposal_id=pk, comment=data["comment"]),
        allowed=can_approve_setting_changes,
        available=_may_approve,
        fields=(("comment", reason_field("Comment (optional)", required=False)),),
        question="Approve and apply this settings change? Your name and the time are recorded in its history.",
    ),
    Decision(
        name="reject",
        label="Reject",
        run=lambda actor, pk, data: setting_proposal_reject(actor=actor, proposal_id=pk, reason=data["reason"]),
        allowed=lambda user: can_approve_setting_changes(user) or can_change_market_settings(user),
        available=lambda p, user: p.status == SettingProposal.Status.PENDING,
        fields=(("reason", reason_field("Reason (recorded in the history)", required=True)),),
        question="Reject this settings change? It is not applied.",
    ),
)


@admin.register(SettingProposal)
class SettingProposalAdmin(DecisionAdminMixin, ReadOnlyAdmin):
    """Weakening changes waiting for a second staff member: approve (not one's own) or reject."""

    decisions = SETTING_DECISIONS
    change_form_template = "admin/exchange/change_form_decisions.html"
    list_display = ["id", "created_at", "status", "currency", "market", "field", "before", "after", "proposed_by",
                    "decided_by"]  # fmt: skip
    list_filter = ["status", "field"]
    list_select_related = ["currency", "market", "proposed_by", "decided_by"]
    search_fields = ["=id", "field", "proposed_by__email", "currency__code", "market__symbol"]
    show_full_result_count = False

    def decision_notes(self, obj: SettingProposal, user: Any) -> list[str]:
        if obj.status == SettingProposal.Status.PENDING and obj.proposed_by_id == user.pk:
            return ["You proposed this change: a different staff member must approve it (you may reject it)."]
        return []

    def decision_summary(self, obj: SettingProposal) -> str:
        return f"{obj.target}: {obj.field} {obj.before} -> {obj.after} (proposed by {obj.proposed_by}: {obj.reason})"


def market_dashboard_panel(request: HttpRequest, site_name: str) -> dict[str, Any]:
    """Each market's last 24 hours, for staff who may see markets."""
    if not request.user.has_perm("markets.view_market"):
        return {}
    return {"market_volumes": ticker_list()}


admin.site.register_dashboard_panel(market_dashboard_panel)
