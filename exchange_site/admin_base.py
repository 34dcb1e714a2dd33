"""Building blocks of the back-office admin that every app's admin uses.

- ``ReadOnlyAdmin``: rows that only services write (ledger, trades, approvals, ...).
- CSV export of any list (the site offers it to the compliance role).
- ``Decision`` and ``DecisionAdminMixin`` turn a service call (approve, reject, ...) into
  an object-page button and a list action, both behind a confirmation page.
- ``DashboardPanel``: what an app adds to the back-office index page; each app's admin
  module registers its panels with the site (``admin.site.register_dashboard_panel``).

The site itself (OTP login, the index) is ``accounts.admin_site.ExchangeAdminSite``.
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
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.csrf import csrf_protect

from .errors import DomainError
from .money import fmt

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


# -- read-only models and the index page ------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only services write: viewable, never added, edited or deleted by hand."""

    list_per_page = 50
    # Counting every row of a large table on each page load is slow and adds nothing.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# A panel adds entries to the index template's context for this request (``{}``: nothing
# to show this user); it gets the request and the admin site's name for its links.
DashboardPanel = Callable[[HttpRequest, str], dict[str, Any]]


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


class ProposalFormMixin:
    """Rows a staff member creates through the add form (a proposal, a freeze), never edits or deletes.

    The add page shows ``add_form`` (a ModelForm told its ``actor``); an existing row's page
    shows ``readonly_fields`` only. ``may_add(user)`` says who may create one.
    """

    add_form: type[forms.ModelForm]
    readonly_fields: tuple[str, ...] = ()

    def may_add(self, user: Any) -> bool:
        raise NotImplementedError

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.may_add(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else tuple(self.add_form.Meta.fields)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = type(f"Add{self.add_form.__name__}", (self.add_form,), {"actor": request.user})
        return super().get_form(request, obj, change=change, **kwargs)


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
