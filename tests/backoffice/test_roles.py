"""Roles: the groups exist with their rights; compliance sees everything and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import BACK_OFFICE, COMPLIANCE, MARKET_OPS, ROLE_PERMISSIONS, TIER_RIGHTS
from markets.models import Currency, Market
from tests.factories import MarketFactory
from wallets.manual_deposits import manual_deposit_propose
from wallets.models import LedgerEntry, Wallet, Withdrawal, WithdrawalEvent
from wallets.withdrawals import withdrawal_approve

from .helpers import admin_login, balance, request_withdrawal

pytestmark = pytest.mark.django_db


def test_the_migration_creates_the_three_roles_with_their_permissions(db):
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert granted == set(names), role


def test_compliance_has_only_view_export_freeze_and_tier_rights():
    for name in ROLE_PERMISSIONS[COMPLIANCE]:
        assert (
            name.split(".")[1].startswith("view_")
            or name in ("wallets.export_csv", "backoffice.freeze_account")
            or name in TIER_RIGHTS
        ), name
    # Besides freezing, the one thing compliance changes: verification tiers and the limit of each tier.
    assert set(TIER_RIGHTS) == {
        "wallets.view_tierlimit",
        "wallets.add_tierlimit",
        "wallets.change_tierlimit",
        "wallets.delete_tierlimit",
        "wallets.set_account_tier",
    }


def test_back_office_cannot_change_configuration_besides_the_tiers():
    rights = [n for n in ROLE_PERMISSIONS[BACK_OFFICE] if n not in TIER_RIGHTS]
    assert not any(".change_" in n or ".add_" in n or ".delete_" in n for n in rights)


def test_market_ops_touches_only_currencies_and_markets():
    assert {n.split(".")[0] for n in ROLE_PERMISSIONS[MARKET_OPS]} == {"markets"}
    assert not any("order" in n or "trade" in n for n in ROLE_PERMISSIONS[MARKET_OPS])


@pytest.fixture
def world(trader, btc, officer, officer2):
    """One row of every kind the admin shows."""
    market = MarketFactory(base=btc)
    withdrawal = request_withdrawal(trader, btc, "0.5")
    withdrawal_approve(actor=officer, withdrawal_id=withdrawal.pk)
    manual_deposit_propose(actor=officer, user=trader, currency=btc, amount=Decimal(1), reason="wire")
    return {"market": market, "withdrawal": withdrawal}


def _admin_urls(obj_by_model):
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        obj = obj_by_model.get(model) or model._default_manager.order_by("pk").first()
        yield model, model_admin, reverse(f"{name}_changelist"), obj and reverse(f"{name}_change", args=[obj.pk])


def test_compliance_sees_every_list_it_has_a_role_for(client, compliance, world):
    admin_login(client, compliance)
    for name in ROLE_PERMISSIONS[COMPLIANCE]:
        app_label, codename = name.split(".")
        if not codename.startswith("view_"):
            continue
        model = next(
            (m for m in admin.site._registry if m._meta.app_label == app_label and m._meta.model_name == codename[5:]),
            None,
        )
        if model is None:
            continue  # e.g. deposit addresses: no admin page
        url = reverse(f"admin:{app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


def test_a_compliance_officers_post_to_any_change_view_is_refused(client, compliance, world, btc, trader):
    admin_login(client, compliance)
    before = (
        list(Wallet.objects.values_list("id", "balance", "locked")),
        list(Withdrawal.objects.values_list("id", "status")),
        WithdrawalEvent.objects.count(),
        LedgerEntry.objects.count(),
        list(Currency.objects.values_list("id", "withdrawal_fee", "withdrawals_enabled")),
        list(Market.objects.values_list("id", "status", "maker_fee")),
    )
    checked = 0
    for _model, _model_admin, changelist, change in _admin_urls({}):
        if change is None:
            continue
        response = client.post(change, {"withdrawals_enabled": "", "status": "halted", "email": "x@example.com"})
        assert response.status_code in (403, 302), (change, response.status_code)
        if response.status_code == 302:
            # Only the login page may answer with a redirect: it never does for a verified session.
            assert "/login/" in response["Location"], change
        checked += 1
        add = changelist + "add/"
        assert client.post(add, {}).status_code in (403, 404), add
    assert checked >= 8
    after = (
        list(Wallet.objects.values_list("id", "balance", "locked")),
        list(Withdrawal.objects.values_list("id", "status")),
        WithdrawalEvent.objects.count(),
        LedgerEntry.objects.count(),
        list(Currency.objects.values_list("id", "withdrawal_fee", "withdrawals_enabled")),
        list(Market.objects.values_list("id", "status", "maker_fee")),
    )
    assert after == before


def test_compliance_cannot_take_decisions_in_the_admin(client, compliance, world, trader, btc):
    withdrawal = world["withdrawal"]
    admin_login(client, compliance)

    page = client.get(reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk])).content.decode()
    assert 'id="decide-' not in page
    response = client.post(
        reverse("admin:wallets_withdrawal_decide", args=[withdrawal.pk, "sent"]), {"confirm": "yes", "txid": "t"}
    )
    assert response.status_code == 403
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "approved"
    assert balance(trader, btc) == (Decimal("10"), Decimal("0.5005"))


def test_back_office_cannot_edit_currencies_or_markets(client, officer, world, btc):
    admin_login(client, officer)

    response = client.post(reverse("admin:markets_currency_change", args=[btc.pk]), {"withdrawal_fee": "0"})
    assert response.status_code == 403
    assert (
        client.post(
            reverse("admin:markets_market_decide", args=[world["market"].pk, "halt"]), {"confirm": "yes"}
        ).status_code
        == 403
    )
    assert Market.objects.get().status == "open"


def test_nobody_edits_or_deletes_ledger_trades_or_approval_records_not_even_a_superuser(rf, db):
    from markets.models import Trade
    from tests.factories import UserFactory

    request = rf.get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    for model in (LedgerEntry, Trade, WithdrawalEvent, Withdrawal):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        assert model_admin.has_view_permission(request), model


def test_a_superusers_post_to_the_approval_history_is_refused(client, world):
    from tests.factories import UserFactory

    from .helpers import enable_2fa

    boss = UserFactory(is_staff=True, is_superuser=True)
    enable_2fa(boss)
    admin_login(client, boss)
    event = WithdrawalEvent.objects.order_by("id").first()
    change = reverse("admin:wallets_withdrawalevent_change", args=[event.pk])
    delete = reverse("admin:wallets_withdrawalevent_delete", args=[event.pk])

    assert client.post(change, {"reason": "rewritten", "to_status": "completed"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert (event.reason, WithdrawalEvent.objects.filter(pk=event.pk).exists()) == ("", True)


def test_market_ops_halts_and_resumes_through_the_admin(client, market_ops, world):
    market = world["market"]
    admin_login(client, market_ops)
    url = reverse("admin:markets_market_decide", args=[market.pk, "halt"])

    assert b"resting orders stay" in client.get(url).content
    client.post(url, {"confirm": "yes"})
    assert Market.objects.get(pk=market.pk).status == "halted"

    client.post(reverse("admin:markets_market_decide", args=[market.pk, "resume"]), {"confirm": "yes"})
    assert Market.objects.get(pk=market.pk).status == "open"


def test_market_ops_sets_fees_through_the_list_action_with_a_confirmation(client, market_ops, world):
    market = world["market"]
    admin_login(client, market_ops)
    changelist = reverse("admin:markets_market_changelist")

    confirm = client.post(changelist, {"action": "decide_set_fees", "_selected_action": [market.pk]})
    assert confirm.status_code == 200
    assert b"Maker fee rate" in confirm.content
    client.post(
        changelist,
        {
            "action": "decide_set_fees",
            "_selected_action": [market.pk],
            "confirm": "yes",
            "maker_fee": "0.0015",
            "taker_fee": "0.0025",
        },
    )

    market.refresh_from_db()
    assert (market.maker_fee, market.taker_fee) == (Decimal("0.0015"), Decimal("0.0025"))


def test_market_status_and_fees_are_not_editable_in_the_change_form(client, market_ops, world):
    market = world["market"]
    admin_login(client, market_ops)
    url = reverse("admin:markets_market_change", args=[market.pk])

    response = client.post(
        url, {"min_qty": "0.001", "min_notional": "5", "status": "halted", "maker_fee": "0.5", "tick_size": "1"}
    )

    assert response.status_code == 302, response.content
    market.refresh_from_db()
    assert (market.min_qty, market.min_notional) == (Decimal("0.001"), Decimal("5"))
    assert (market.status, market.maker_fee, market.tick_size) == ("open", Decimal("0.001"), Decimal("0.01"))
