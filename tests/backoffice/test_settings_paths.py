"""Every path that writes currency or market settings goes through the settings services.

Who may use the admin's settings pages (market_ops only), what hostile values do there
(refused, nothing written, nothing recorded), and that the bootstrap's creations are in
the settings history like the admin's.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from markets.bootstrap import BOOTSTRAP_REASON, bootstrap_spec_clean, exchange_bootstrap
from markets.models import Currency, Market, SettingChange
from tests.factories import CurrencyFactory, MarketFactory

from .helpers import admin_login, currency_form

pytestmark = pytest.mark.django_db


def _market_form(market: Market, **changes: str) -> dict[str, str]:
    data = {"min_qty": str(market.min_qty), "min_notional": str(market.min_notional), "change_reason": "x"}
    data.update(changes)
    return data


@pytest.mark.parametrize("role", ["officer", "compliance"])
def test_staff_without_market_ops_cannot_change_a_currency_in_the_admin(client, request, btc, role):
    admin_login(client, request.getfixturevalue(role))
    before = Currency.objects.values().get(pk=btc.pk)

    response = client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]), currency_form(btc, withdrawal_fee="0.1")
    )

    assert response.status_code == 403
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()


@pytest.mark.parametrize("role", ["officer", "compliance"])
def test_staff_without_market_ops_cannot_create_or_change_a_market(client, request, btc, role):
    market = MarketFactory(base=btc, quote=CurrencyFactory(code="USDT", precision=6))
    admin_login(client, request.getfixturevalue(role))
    before = Market.objects.values().get(pk=market.pk)

    changed = client.post(reverse("admin:markets_market_change", args=[market.pk]), _market_form(market, min_qty="5"))
    added = client.post(reverse("admin:markets_market_add"), {"symbol": "ETH-BTC"})

    assert (changed.status_code, added.status_code) == (403, 403)
    assert Market.objects.values().get(pk=market.pk) == before
    assert Market.objects.count() == 1
    assert not SettingChange.objects.exists()


def test_an_anonymous_post_to_a_settings_page_changes_nothing(client, btc):
    before = Currency.objects.values().get(pk=btc.pk)

    response = client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]), currency_form(btc, withdrawal_fee="0.1")
    )

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("withdrawal_fee", "NaN"),
        ("withdrawal_fee", "Infinity"),
        ("withdrawal_fee", "1e400"),
        ("min_withdrawal", "9" * 40),
        ("min_withdrawal", "0x10"),
        ("dual_approval_threshold", "1; DROP TABLE markets_currency"),
        ("min_confirmations", "-1"),
        ("min_confirmations", "9" * 30),
        ("min_confirmations", "1.5"),
        ("name", "x" * 10_000),
    ],
)
def test_hostile_currency_values_in_the_admin_are_refused_and_not_recorded(client, market_ops, btc, field, value):
    admin_login(client, market_ops)
    before = Currency.objects.values().get(pk=btc.pk)

    response = client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]), currency_form(btc, **{field: value})
    )

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()


def test_a_change_reason_too_long_is_refused_and_nothing_changes(client, market_ops, btc):
    admin_login(client, market_ops)
    before = Currency.objects.values().get(pk=btc.pk)

    response = client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]),
        currency_form(btc, withdrawal_fee="0.001", change_reason="r" * 5000),
    )

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()


def test_a_currency_change_in_the_admin_records_who_changed_what(client, market_ops, btc):
    admin_login(client, market_ops)

    client.post(
        reverse("admin:markets_currency_change", args=[btc.pk]),
        currency_form(btc, withdrawal_fee="0.001", change_reason="network fees rose"),
    )

    btc.refresh_from_db()
    assert btc.withdrawal_fee == Decimal("0.001")
    change = SettingChange.objects.get(currency=btc)
    assert (change.actor, change.action, change.field) == (market_ops, "change", "withdrawal_fee")
    assert (change.before, change.after, change.reason) == ("0.0005", "0.001", "network fees rose")


def test_the_bootstrap_records_each_creation_in_the_settings_history(db):
    spec = bootstrap_spec_clean(
        {
            "currencies": {"BTC": {"name": "Bitcoin", "precision": 8}, "USDT": {"name": "Tether", "precision": 6}},
            "markets": {"BTC-USDT": {"tick_size": "0.01", "lot_size": "0.0001"}},
        }
    )

    exchange_bootstrap(spec=spec)
    exchange_bootstrap(spec=spec)  # a second run creates, and records, nothing

    rows = SettingChange.objects.order_by("id")
    created = [(r.currency.code if r.currency else r.market.symbol, r.action, r.actor) for r in rows]
    assert created == [("BTC", "create", None), ("USDT", "create", None), ("BTC-USDT", "create", None)]
    assert {r.reason for r in rows} == {BOOTSTRAP_REASON}
    assert "tick_size=0.01" in rows.get(market__symbol="BTC-USDT").after
