"""The back-office admin site: OTP-verified staff, CSV export, confirmation pages.

- Staff must log in with password and a one-time password (django-otp's admin site);
  ``ADMIN_REQUIRE_OTP=0`` turns that off for local trials only. The setting is read on
  every request, so tests may flip it.
- Every list gets an "Export to CSV" action, offered only to users with
  ``wallets.export_csv`` (the compliance role).
- The index shows what waits for a decision and each market's 24-hour volume.
- ``Decision`` and ``DecisionAdminMixin`` turn a service call (approve, reject, ...) into
  an object-page button and a list action, both behind a confirmation page.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.csrf import csrf_protect
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.otp import MAX_CODE_LENGTH, is_backup_shape, is_totp_shape, otp_normalize
from accounts.roles import can_export_csv
from exchange_site.admin_groups import group_apps
from exchange_site.errors import DomainError
from exchange_site.throttles import auth_limits_refusal
from markets.precision import fmt

logger = logging.getLogger(__name__)

# Never exported, whoever asks: credentials and OTP secrets.
CSV_EXCLUDED_FIELDS = {"password", "key", "token", "bin_key"}
# Columns that name a related row better than its id.
CSV_LABEL_FIELDS = ("email", "code", "symbol")
# A leading one of these makes a spreadsheet evaluate the cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Decisions are taken one by one, each in its own transaction: keep a batch reviewable.
MAX_DECISIONS_PER_ACTION = 100


# -- CSV export ---------------------------------------------------------------------


class ExportCsvMixin:
    """Gives every ModelAdmin of the site the ``export`` permission the CSV action needs."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return can_export_csv(request.user)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _has_field(model: type[Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def csv_columns(model: type[Model]) -> list[tuple[str, str]]:
    """(header, lookup) for every concrete field; related rows by id and by their label."""
    columns: list[tuple[str, str]] = []
    for f in model._meta.concrete_fields:
        if f.name in CSV_EXCLUDED_FIELDS:
            continue
        if f.is_relation:
            columns.append((f.attname, f.attname))
            label = next((n for n in CSV_LABEL_FIELDS if _has_field(f.related_model, n)), None)
            if label:
                columns.append((f"{f.name}_{label}", f"{f.name}__{label}"))
        else:
            columns.append((f.name, f.name))
    return columns


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_rows(queryset: QuerySet, columns: Sequence[tuple[str, str]]) -> Iterator[list[Any]]:
    yield [header for header, _ in columns]
    rows = queryset.order_by("pk").values_list(*(lookup for _, lookup in columns))
    for row in rows.iterator(chunk_size=2000):
        yield [csv_cell(v) for v in row]


@admin.action(description="Export selected to CSV", permissions=["export"])
def export_as_csv(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
    model = queryset.model
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in csv_rows(queryset, csv_columns(model))), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{model._meta.app_label}_{model._meta.model_name}.csv"'
    logger.info("CSV export of %s by user %s", model._meta.label, request.user.pk)
    return response


# -- login -------------------------------------------------------------------------


STAFF_LOGIN_ERROR = "Please enter the correct email, password and one-time password of a staff account."


class StaffOTPAuthenticationForm(OTPAdminAuthenticationForm):
    """Password and one-time password in one step.

    django-otp asks to pick a device once the password checked out; staff have one
    authenticator and one set of backup codes, so the code's shape says which device it
    is meant for (as at the API's login).
    """

    def clean_otp_token(self) -> str:
        return otp_normalize(self.cleaned_data.get("otp_token") or "")

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            # django-otp answers a right password with a missing or wrong code differently
            # (its own message, the user's devices listed, the password echoed back), which
            # would confirm staff passwords to a guesser: every failure looks the same.
            self.user_cache = None  # the template offers the device list to a known user
            self.fields["otp_device"].widget.choices = []
            self.fields["password"].widget.render_value = False
            raise forms.ValidationError(STAFF_LOGIN_ERROR, code="invalid_login") from None

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is not None:
            return device
        token = self.cleaned_data.get("otp_token") or ""
        if not token or len(token) > MAX_CODE_LENGTH:
            return None
        for totp in TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk"):
            if is_totp_shape(token, digits=totp.digits):
                return totp
        if is_backup_shape(token):
            return StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        return None


# -- the site -----------------------------------------------------------------------


class ExchangeAdminSite(OTPAdminSite):
    site_header = "Exchange back office"
    site_title = "Exchange back office"
    index_title = "Back office"
    index_template = "admin/exchange/index.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.add_action(export_as_csv)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # The API's login limits (per IP and per account, same buckets) guard this form too.
        if request.method == "POST":
            refusal = auth_limits_refusal(request)
            if refusal is not None:
                return refusal
        return super().login(request, extra_context)

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:  # type: ignore[override]
        return StaffOTPAuthenticationForm if settings.ADMIN_REQUIRE_OTP else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return "otp/admin111/login.html" if settings.ADMIN_REQUIRE_OTP else None

    def has_permission(self, request: HttpRequest) -> bool:
        if not AdminSite.has_permission(self, request):
            return False
        if not settings.ADMIN_REQUIRE_OTP:
            return True
        # Set by django-otp's middleware; a request that did not pass through it is not verified.
        is_verified = getattr(request.user, "is_verified", None)
        return bool(callable(is_verified) and is_verified())

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ExportCsvMixin):
            admin_class = type(
                admin_class.__name__, (ExportCsvMixin, admin_class), {"__module__": admin_class.__module__}
            )
        super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The index and the sidebar grouped by the work (exchange_site/admin_groups.py)."""
        app_list = super().get_app_list(request, app_label)
        return app_list if app_label else group_apps(app_list, request.user)

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        from markets.selectors import ticker_list
        from wallets.models import Incident
        from wallets.selectors_withdrawals import pending_work

        user = request.user
        context = dict(extra_context or {})
        # Every staff member sees an open ledger incident first: trading may be halted.
        context["open_incidents"] = list(
            Incident.objects.filter(status=Incident.Status.OPEN).select_related("currency")[:20]
        )
        context["incidents_url"] = reverse(f"{self.name}:wallets_incident_changelist")
        if user.has_perm("wallets.view_withdrawal") or user.has_perm("wallets.view_manualdeposit"):
            context["pending_work"] = pending_work()
            context["pending_links"] = {
                "review": reverse(f"{self.name}:wallets_withdrawal_changelist") + "?status__exact=pending_review",
                "unsent": reverse(f"{self.name}:wallets_withdrawal_changelist") + "?status__exact=approved",
                "manual": reverse(f"{self.name}:wallets_manualdeposit_changelist") + "?status__exact=proposed",
            }
        if user.has_perm("markets.view_market"):
            context["market_volumes"] = ticker_list()
        return super().index(request, context)


# -- read-only tables on change pages ----------------------------------------------------


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "None") -> SafeString:
    """A small escaped HTML table for a read-only field of a change page."""
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_display(c),) for c in row)),) for row in rows),
    )
    return format_html('<table class="exchange-panel"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def _display(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else value


# -- forms whose save calls a service ----------------------------------------------------


class ServiceSaveMixin:
    """For admins whose ``save_model`` calls a service.

    Entry-point services open a durable transaction, which cannot nest in the one Django
    wraps around a change form's POST; the service's transaction is the one that counts.
    """

    @method_decorator(csrf_protect)
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return self._changeform_view(request, object_id, form_url, extra_context)


# -- decisions behind a confirmation page ---------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One service call offered as an object-page button and a list action.

    ``run(actor, pk, data)`` calls the service with the confirmation form's cleaned
    ``data`` (the ``fields``: reason, txid, fee rates, ...). ``allowed(user)`` says who may
    take it at all; ``available(obj, user)`` whether the object page offers it now.
    """

    name: str
    label: str
    run: Callable[[Any, int, dict[str, Any]], Any]
    allowed: Callable[[Any], bool]
    available: Callable[[Any, Any], bool] = lambda obj, user: True
    fields: tuple[tuple[str, forms.Field], ...] = ()
    question: str = "Are you sure?"

    def form_class(self) -> type[forms.Form]:
        attrs: dict[str, Any] = {"confirm": forms.CharField(widget=forms.HiddenInput, initial="yes")}
        attrs.update(dict(self.fields))
        return type(f"{self.name.title().replace('_', '')}Form", (forms.Form,), attrs)


def reason_field(label: str, *, required: bool, max_length: int = 2000) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=max_length, widget=forms.Textarea(attrs={"rows": 3})
    )


class DecisionAdminMixin:
    """Adds ``<pk>/decide/<name>/`` pages and list actions for ``decisions``."""

    decisions: Sequence[Decision] = ()
    confirmation_template = "admin/exchange/confirm_decision.html"

    def _decision(self, name: str) -> Decision:
        for decision in self.decisions:
            if decision.name == name:
                return decision
        raise PermissionDenied

    def get_urls(self) -> list:
        opts = self.model._meta
        extra = [
            path(
                "<path:object_id>/decide/<str:name>/",
                self.admin_site.admin_view(self.decide_view),
                name=f"{opts.app_label}_{opts.model_name}_decide",
            )
        ]
        return extra + super().get_urls()

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        for decision in self.decisions:
            if decision.allowed(request.user):
                actions[f"decide_{decision.name}"] = (
                    self._list_action(decision),
                    f"decide_{decision.name}",
                    f"{decision.label} selected {self.model._meta.verbose_name_plural}",
                )
        return actions

    def decision_notes(self, obj: Model, user: Any) -> list[str]:
        """Why a decision is not offered to ``user`` (shown above the buttons)."""
        return []

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            context["decision_buttons"] = self.decision_buttons(obj, request.user)
            context["decision_notes"] = self.decision_notes(obj, request.user)
        return super().change_view(request, object_id, form_url, context)

    def decision_summary(self, obj: Model) -> str:
        """One line describing ``obj`` on the confirmation page."""
        return str(obj)

    def decision_url(self, obj: Model, name: str) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_decide", args=[obj.pk, name])

    def decision_buttons(self, obj: Model, user: Any) -> SafeString:
        shown = [d for d in self.decisions if d.allowed(user) and d.available(obj, user)]
        if not shown:
            return format_html("{}", "")
        return format_html_join(
            " ",
            '<a class="button" href="{}" id="decide-{}">{}</a>',
            ((self.decision_url(obj, d.name), d.name, d.label) for d in shown),
        )

    def _run(self, request: HttpRequest, decision: Decision, objects: Iterable[Model], data: dict[str, Any]) -> None:
        data = {k: v for k, v in data.items() if k != "confirm"}
        detail = ", ".join(f"{k}={v}" for k, v in data.items() if v not in ("", None))
        for obj in objects:
            try:
                result = decision.run(request.user, obj.pk, data)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.message} ({exc.code})", messages.ERROR)
            else:
                self.message_user(request, f"{obj}: {decision.label.lower()} done.", messages.SUCCESS)
                # A service may answer that part of the request waits for someone else.
                notice = getattr(result, "admin_notice", "")
                if notice:
                    self.message_user(request, f"{obj}: {notice}", messages.WARNING)
                # The admin log (compliance reads it) records who took which decision.
                self.log_change(request, obj, decision.label + (f" ({detail})" if detail else ""))

    def _confirmation(
        self, request: HttpRequest, decision: Decision, objects: list[Model], form: forms.Form, *, action: str = ""
    ) -> TemplateResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"{decision.label}: confirm",
            "decision": decision,
            "objects": objects,
            "summaries": [self.decision_summary(obj) for obj in objects],
            "form": form,
            "action": action,
            "opts": opts,
            "cancel_url": (
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[objects[0].pk])
                if not action
                else reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
            ),
        }
        return TemplateResponse(request, self.confirmation_template, context)

    def decide_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        decision = self._decision(name)
        if not decision.allowed(request.user):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        form_class = decision.form_class()
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            self._run(request, decision, [obj], form.cleaned_data)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        return self._confirmation(request, decision, [obj], form)

    def _list_action(self, decision: Decision) -> Callable:
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
            if not decision.allowed(request.user):
                raise PermissionDenied
            form_class = decision.form_class()
            objects = list(queryset[: MAX_DECISIONS_PER_ACTION + 1])
            if len(objects) > MAX_DECISIONS_PER_ACTION:
                self.message_user(
                    request, f"Select at most {MAX_DECISIONS_PER_ACTION} rows for this action.", messages.ERROR
                )
                return None
            if request.POST.get("confirm"):
                form = form_class(request.POST)
                if form.is_valid():
                    self._run(request, decision, objects, form.cleaned_data)
                    return None
            else:
                form = form_class()
            return self._confirmation(request, decision, objects, form, action=f"decide_{decision.name}")

        action.__name__ = f"decide_{decision.name}"
        return action
