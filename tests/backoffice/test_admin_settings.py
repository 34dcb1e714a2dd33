"""Currency and market pages: invalid values refused by the form, weakening changes proposed, approved by another."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from markets.models import Currency, Market, SettingChange, SettingProposal
from tests.factories import CurrencyFactory, MarketFactory

from .helpers import admin_login, currency_form

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dual_approval_threshold", "0"),
        ("min_confirmations", "0"),
        ("withdrawal_fee", "-0.1"),
        ("min_withdrawal", "-1"),
        ("withdrawal_fee", "0.000000001"),
    ],
)
def test_the_currency_form_refuses_values_that_switch_a_control_off(client, market_ops, btc, field, value):
    admin_login(client, market_ops)
    before = Currency.objects.values().get(pk=btc.pk)

    response = client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]), currency_form(btc, **{field: value})
    )

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("taker_fee", "1.5"), ("maker_fee", "-0.001"), ("tick_size", "0"), ("lot_size", "0.000000001")]
)
def test_the_market_add_form_refuses_fees_and_sizes_settlement_cannot_use(client, market_ops, btc, field, value):
    usdt = CurrencyFactory(code="USDT", precision=6)
    admin_login(client, market_ops)
    data = {
        "symbol": "BTC-USDT",
        "base": btc.pk,
        "quote": usdt.pk,
        "tick_size": "0.01",
        "lot_size": "0.0001",
        "min_qty": "0",
        "min_notional": "0",
        "maker_fee": "0.001",
        "taker_fee": "0.002",
        field: value,
    }

    response = client.post(reverse("admin:markets_market_add"), data)

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Market.objects.exists()
    # The same form with valid values creates the market through the service, recorded.
    data[field] = {"taker_fee": "0.002", "maker_fee": "0.001", "tick_size": "0.01", "lot_size": "0.0001"}[field]
    assert client.post(reverse("admin:markets_market_add"), data).status_code == 302
    assert SettingChange.objects.get(market=Market.objects.get()).action == "create"


def test_a_threshold_raised_in_the_form_is_proposed_and_applied_when_a_colleague_approves(
    client, market_ops, officer, btc
):
    admin_login(client, market_ops)
    url = reverse("admin:markets_currency_change", args=[btc.pk])

    response = client.post(
        url, currency_form(btc, dual_approval_threshold="100", change_reason="bigger desk"), follow=True
    )

    assert b"waits for a second staff member" in response.content
    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("1")
    proposal = SettingProposal.objects.get()
    page = client.get(url).content.decode()
    assert "Proposals waiting for a second person" in page
    assert "bigger desk" in page
    # The proposer is offered no approve button and is refused if they try.
    proposal_page = client.get(reverse("admin:markets_settingproposal_change", args=[proposal.pk])).content.decode()
    assert 'id="decide-approve"' not in proposal_page
    decide = reverse("admin:markets_settingproposal_decide", args=[proposal.pk, "approve"])
    refused = client.post(decide, {"confirm": "yes"}, follow=True)
    assert "self_approval" in refused.content.decode()
    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("1")

    client.logout()
    admin_login(client, officer)
    proposal_page = client.get(reverse("admin:markets_settingproposal_change", args=[proposal.pk])).content.decode()
    assert 'id="decide-approve"' in proposal_page
    client.post(decide, {"confirm": "yes", "comment": "agreed"})

    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("100")
    history = client.get(reverse("admin:markets_settingchange_changelist")).content.decode()
    assert "approve" in history
    assert "propose" in history


def test_compliance_sees_the_history_but_cannot_approve(client, compliance, market_ops, btc):
    from markets.services_settings import currency_update

    proposal = currency_update(
        actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("9")}
    ).proposals[0]
    admin_login(client, compliance)

    assert client.get(reverse("admin:markets_settingchange_changelist")).status_code == 200
    decide = reverse("admin:markets_settingproposal_decide", args=[proposal.pk, "approve"])
    assert client.post(decide, {"confirm": "yes"}).status_code == 403
    assert SettingProposal.objects.get().status == "pending"


def test_nobody_edits_or_deletes_the_settings_history(client, market_ops, btc):
    from markets.services_settings import currency_update

    currency_update(actor=market_ops, currency_id=btc.pk, changes={"withdrawal_fee": D("0.001")})
    event = SettingChange.objects.get()
    admin_login(client, market_ops)

    change = reverse("admin:markets_settingchange_change", args=[event.pk])
    assert client.post(change, {"after": "0"}).status_code == 403
    assert (
        client.post(reverse("admin:markets_settingchange_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    assert SettingChange.objects.get().after == "0.001"


def test_market_ops_halts_with_cancel_of_queued_orders_through_the_admin(client, market_ops):
    market = MarketFactory()
    admin_login(client, market_ops)
    url = reverse("admin:markets_market_decide", args=[market.pk, "halt"])

    assert b"Also cancel the orders queued" in client.get(url).content
    client.post(url, {"confirm": "yes", "cancel_queued": "on", "reason": "chain halt"})

    market.refresh_from_db()
    assert market.status == "halted"
    event = SettingChange.objects.get(market=market)
    assert (event.actor, event.after) == (market_ops, "halted")
    assert "chain halt" in event.reason


def test_a_refused_save_shows_the_error_and_changes_nothing(client, market_ops, btc):
    from django.contrib.admin.models import LogEntry

    admin_login(client, market_ops)
    url = reverse("admin:markets_currency_change", args=[btc.pk])
    client.post(url, currency_form(btc, dual_approval_threshold="5"))
    logged = LogEntry.objects.count()

    response = client.post(url, currency_form(btc, dual_approval_threshold="6"), follow=True)

    assert "proposal_pending" in response.content.decode()
    assert LogEntry.objects.count() == logged
    assert list(SettingProposal.objects.values_list("after", flat=True)) == ["5"]
    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("1")
