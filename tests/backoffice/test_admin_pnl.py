"""The realized PnL list in the admin: compliance reads it and exports it to CSV; nobody edits it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import MarketFactory, UserFactory
from wallets.models import TraderPnl

from .helpers import admin_login, make_staff

pytestmark = pytest.mark.django_db
LIST = reverse("admin:wallets_traderpnl_changelist")


@pytest.fixture
def pnl_row(db):
    return TraderPnl.objects.create(
        user=UserFactory(email="pnl-trader@example.com"),
        market=MarketFactory(),
        position=Decimal("0.996"),
        cost_basis=Decimal("99.799599198396793587"),
        average_cost=Decimal("100.200400801603206413"),
        realized_pnl=Decimal("-29.669599198396793587"),
        fees_paid_quote=Decimal("0.53"),
        updated_at=timezone.now(),
    )


def test_compliance_sees_the_pnl_column(client, compliance, pnl_row):
    admin_login(client, compliance)
    response = client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "pnl-trader@example.com" in page
    assert "-29.669599198396793587" in page


def test_compliance_exports_pnl_to_csv_exactly(client, compliance, pnl_row):
    admin_login(client, compliance)
    response = client.post(LIST, {"action": "export_as_csv", "_selected_action": [str(pnl_row.pk)]})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["user_email"] == "pnl-trader@example.com"
    assert rows[0]["market_symbol"] == "BTC-USDT"
    # A leading minus would make a spreadsheet evaluate the cell: the export neutralises it.
    assert rows[0]["realized_pnl"].endswith("-29.669599198396793587")
    assert rows[0]["average_cost"] == "100.200400801603206413"


def test_nobody_edits_or_deletes_pnl_rows(client, pnl_row):
    admin_login(client, make_staff(is_superuser=True))
    change = reverse("admin:wallets_traderpnl_change", args=[pnl_row.pk])
    client.post(change, {"realized_pnl": "1000000"})
    pnl_row.refresh_from_db()
    assert pnl_row.realized_pnl == Decimal("-29.669599198396793587")
    assert client.get(reverse("admin:wallets_traderpnl_add")).status_code == 403
    assert client.post(reverse("admin:wallets_traderpnl_delete", args=[pnl_row.pk]), {"post": "yes"}).status_code in (
        403,
        302,
    )
    assert TraderPnl.objects.filter(pk=pnl_row.pk).exists()


def test_other_roles_do_not_see_it(client, officer, pnl_row):
    admin_login(client, officer)
    assert client.get(LIST).status_code == 403
