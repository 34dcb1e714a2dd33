"""CSV export: on every list, for the export permission only, complete and spreadsheet-safe."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from exchange_site.admin_base import csv_cell
from wallets.models import Withdrawal

from .helpers import admin_login, request_withdrawal

pytestmark = pytest.mark.django_db


def _export(client, model, ids):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return client.post(url, {"action": "export_as_csv", "_selected_action": [str(i) for i in ids]})


def _rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_compliance_exports_withdrawals_with_every_column(client, compliance, trader, btc):
    a = request_withdrawal(trader, btc, "0.5")
    b = request_withdrawal(trader, btc, "0.001")
    admin_login(client, compliance)

    response = _export(client, Withdrawal, [a.pk, b.pk])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert [int(r["id"]) for r in rows] == [a.pk, b.pk]
    assert rows[0]["user_email"] == trader.email
    assert rows[0]["currency_code"] == "BTC"
    assert (rows[0]["amount"], rows[0]["fee"], rows[1]["amount"]) == ("0.5", "0.0005", "0.001")
    assert rows[0]["status"] == "pending_review"


def test_select_all_exports_the_whole_filtered_list(client, compliance, trader, btc):
    for _ in range(3):
        request_withdrawal(trader, btc, "0.1")
    admin_login(client, compliance)

    response = client.post(
        "/admin/wallets/withdrawal/?status__exact=pending_review",
        {"action": "export_as_csv", "select_across": "1", "_selected_action": [str(Withdrawal.objects.first().pk)]},
    )

    assert len(_rows(response)) == 3


def test_user_export_never_contains_password_hashes(client, compliance, trader):
    admin_login(client, compliance)

    rows = _rows(_export(client, type(trader), [trader.pk]))

    assert rows[0]["email"] == trader.email
    assert "password" not in rows[0]
    assert trader.password not in str(rows)


def test_export_is_offered_on_every_list_to_compliance_only(compliance, officer, rf):
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(_as(rf, compliance)):
            continue
        actions_for_compliance = model_admin.get_actions(_as(rf, compliance))
        actions_for_back_office = model_admin.get_actions(_as(rf, officer))
        assert "export_as_csv" in actions_for_compliance, model
        assert "export_as_csv" not in actions_for_back_office, model


def _as(rf, user):
    request = rf.get("/")
    request.user = user
    return request


def test_back_office_cannot_export(client, officer, trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    admin_login(client, officer)

    response = _export(client, Withdrawal, [withdrawal.pk])

    assert response.get("Content-Type") != "text/csv"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("plain", "plain"),
        (Decimal("0.000000010000000000"), "0.00000001"),
        (Decimal("-1.5"), "-1.5"),
        (None, ""),
    ],
)
def test_cells_are_plain_numbers_and_never_formulas(value, cell):
    assert csv_cell(value) == cell
