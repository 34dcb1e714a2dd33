"""The customer page (one account on one screen) and the customer search, read-only, in the admin.

Staff reach them through the admin's login (OTP-verified); the page needs
``accounts.view_user`` and shows the sections the role may view; the CSV exports need
the compliance role's ``wallets.export_csv``. Every view and export is logged with who
looked at whom (staff actions leave a record).
"""

from __future__ import annotations

import csv
import logging
import re
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from accounts.models import User
from accounts.roles import can_export_csv
from exchange_site.admin_base import csv_cell, html_table

from .customer import (
    LIMIT,
    MAX_QUERY,
    SECTION_KEYS,
    customer_search,
    deposit_addresses,
    sections_for,
    two_factor_summary,
)

logger = logging.getLogger(__name__)
_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?")


def _require_view(request: HttpRequest) -> None:
    if not request.user.has_perm("accounts.view_user"):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


@require_safe
def customer_search_view(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    query = request.GET.get("q", "")
    if len(query) > MAX_QUERY:
        query = query[:MAX_QUERY]
    matches = customer_search(query, request.user) if query.strip() else []
    if query.strip():
        logger.info("customer search by staff %s (%d matches)", request.user.pk, len(matches))
    return TemplateResponse(
        request, "backoffice/customer_search.html", _context(request, "Customers", query=query, matches=matches)
    )


@require_safe
def customer_view(request: HttpRequest, user_id: int) -> HttpResponse:
    _require_view(request)
    customer = get_object_or_404(User, pk=user_id)
    exports = can_export_csv(request.user)
    sections = []
    for section in sections_for(request.user):
        rows = []
        total = 0
        for row in section.rows(customer):
            total += 1
            if total <= LIMIT:
                rows.append(row)
            else:
                break
        sections.append(
            {
                "key": section.key,
                "title": section.title,
                "table": html_table(section.headers, rows, empty="None."),
                "more": total > LIMIT,
                "export_url": reverse("backoffice-customer-export", args=[customer.pk, section.key]) if exports else "",
            }
        )
    logger.info("customer page of user %s viewed by staff %s", customer.pk, request.user.pk)
    context = _context(
        request,
        f"Customer {customer.email}",
        customer=customer,
        two_factor=two_factor_summary(customer),
        addresses=deposit_addresses(customer),
        sections=sections,
        limit=LIMIT,
        user_admin_url=reverse("admin:accounts_user_change", args=[customer.pk]),
    )
    return TemplateResponse(request, "backoffice/customer.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return value.replace(",", "")  # plain numbers for spreadsheets
    return csv_cell(value)


@require_safe
def customer_export_view(request: HttpRequest, user_id: int, section: str) -> StreamingHttpResponse:
    _require_view(request)
    if not can_export_csv(request.user):
        raise PermissionDenied
    chosen = SECTION_KEYS.get(section)
    if chosen is None:
        raise Http404
    if not request.user.has_perm(chosen.permission):
        raise PermissionDenied
    customer = get_object_or_404(User, pk=user_id)
    writer = csv.writer(_Echo())
    lines = (writer.writerow([_cell(v) for v in row]) for row in _with_headers(chosen, customer))
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="customer_{customer.pk}_{chosen.key}.csv"'
    logger.info("CSV export of %s of user %s by staff %s", chosen.key, customer.pk, request.user.pk)
    return response


def _with_headers(section: Any, customer: User):
    yield section.headers
    yield from section.rows(customer)
