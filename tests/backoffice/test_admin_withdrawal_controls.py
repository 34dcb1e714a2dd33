"""The back office's withdrawal controls: tiers on the user page, tier limits, whitelisted addresses (read-only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import StaffAction, User
from tests.wallets.controls import ADDRESS, add_address, whitelist
from wallets.models import TierLimit, WithdrawalAddress

from .helpers import admin_login

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_user_changelist")
LIMITS = reverse("admin:wallets_tierlimit_changelist")
ADDRESSES = reverse("admin:wallets_withdrawaladdress_changelist")


def _recorded():
    """The staff actions of tiers and tier limits (logins and OTP enrolments are recorded too)."""
    return StaffAction.objects.filter(action__startswith="tier_limit.") | StaffAction.objects.filter(
        action="account.tier_set"
    )


def _decide_tier(client, user, tier):
    url = reverse("admin:accounts_user_decide", args=[user.pk, "set_tier"])
    return client.post(url, {"confirm": "yes", "tier": str(tier)})


@pytest.mark.parametrize("role", ["compliance", "officer"])
def test_compliance_and_back_office_set_a_tier_and_it_is_recorded_with_the_address(client, trader, role, request):
    staff = request.getfixturevalue(role)
    admin_login(client, staff)

    response = _decide_tier(client, trader, 3)

    assert response.status_code == 302, response.content
    trader.refresh_from_db()
    assert trader.tier == 3
    record = StaffAction.objects.get(action="account.tier_set")
    assert (record.actor_id, record.before, record.after) == (staff.pk, {"tier": 0}, {"tier": 3})
    assert record.ip == "127.0.0.1"


def test_the_list_action_sets_the_tier_of_several_accounts(client, compliance, trader, btc):
    from .helpers import make_trader

    other = make_trader(btc, "0")
    admin_login(client, compliance)

    client.post(
        USERS, {"action": "decide_set_tier", "_selected_action": [trader.pk, other.pk], "confirm": "yes", "tier": "2"}
    )

    assert set(User.objects.filter(pk__in=[trader.pk, other.pk]).values_list("tier", flat=True)) == {2}
    assert StaffAction.objects.filter(action="account.tier_set").count() == 2


@pytest.mark.parametrize("tier", ["10", "-1", "two", ""])
def test_a_bad_tier_is_refused_by_the_form(client, compliance, trader, tier):
    admin_login(client, compliance)

    response = _decide_tier(client, trader, tier)

    assert response.status_code == 200  # the confirmation page again, with the error
    trader.refresh_from_db()
    assert trader.tier == 0
    assert not _recorded().exists()


def test_market_ops_cannot_set_a_tier(client, market_ops, trader):
    admin_login(client, market_ops)

    assert _decide_tier(client, trader, 3).status_code == 403
    trader.refresh_from_db()
    assert trader.tier == 0


def test_the_user_pages_show_the_tier_and_the_whitelist(client, compliance, trader, btc):
    add_address(trader, btc)
    whitelist(trader)
    admin_login(client, compliance)

    listing = client.get(USERS, {"tier": "0"}).content.decode()
    page = client.get(reverse("admin:accounts_user_change", args=[trader.pk])).content.decode()

    assert trader.email in listing
    assert "Verification" in page
    assert ADDRESS in page
    assert "cold wallet" in page
    assert 'id="decide-set_tier"' in page


def test_tier_limits_are_added_changed_and_deleted_with_a_record_each(client, compliance, btc):
    admin_login(client, compliance)

    added = client.post(LIMITS + "add/", {"tier": "1", "currency": str(btc.pk), "limit_24h": "2.5"})
    assert added.status_code == 302, added.content
    row = TierLimit.objects.get()
    assert (row.tier, row.currency_id, row.limit_24h) == (1, btc.pk, Decimal("2.5"))

    changed = client.post(reverse("admin:wallets_tierlimit_change", args=[row.pk]), {"limit_24h": "4"})
    assert changed.status_code == 302, changed.content
    row.refresh_from_db()
    assert row.limit_24h == Decimal("4")

    deleted = client.post(reverse("admin:wallets_tierlimit_delete", args=[row.pk]), {"post": "yes"})
    assert deleted.status_code == 302, deleted.content
    assert not TierLimit.objects.exists()

    records = list(_recorded().order_by("id").values_list("action", "actor_id", "before", "after"))
    assert records == [
        ("tier_limit.set", compliance.pk, None, {"tier": 1, "currency": "BTC", "limit_24h": "2.5"}),
        (
            "tier_limit.set",
            compliance.pk,
            {"tier": 1, "currency": "BTC", "limit_24h": "2.5"},
            {"tier": 1, "currency": "BTC", "limit_24h": "4"},
        ),
        ("tier_limit.delete", compliance.pk, {"tier": 1, "currency": "BTC", "limit_24h": "4"}, None),
    ]


@pytest.mark.parametrize("value", ["-1", "abc", "1" * 40, "0.0000000000000000001", "NaN"])
def test_a_bad_limit_is_refused_by_the_form(client, officer, btc, value):
    admin_login(client, officer)

    response = client.post(LIMITS + "add/", {"tier": "1", "currency": str(btc.pk), "limit_24h": value})

    assert response.status_code == 200
    assert not TierLimit.objects.exists()
    assert not _recorded().exists()


def test_a_second_limit_for_the_same_tier_and_currency_is_refused(client, officer, btc):
    TierLimit.objects.create(tier=1, currency=btc, limit_24h=Decimal("1"))
    admin_login(client, officer)

    response = client.post(LIMITS + "add/", {"tier": "1", "currency": str(btc.pk), "limit_24h": "9"})

    assert response.status_code == 200
    assert TierLimit.objects.get().limit_24h == Decimal("1")


def test_market_ops_cannot_see_or_edit_tier_limits(client, market_ops, btc):
    admin_login(client, market_ops)

    assert client.get(LIMITS).status_code == 403
    assert client.post(LIMITS + "add/", {"tier": "1", "currency": str(btc.pk), "limit_24h": "1"}).status_code == 403
    assert not TierLimit.objects.exists()


def test_compliance_reads_whitelisted_addresses_and_cannot_change_them(client, compliance, trader, btc):
    entry = add_address(trader, btc)
    admin_login(client, compliance)

    assert ADDRESS in client.get(ADDRESSES).content.decode()
    change = reverse("admin:wallets_withdrawaladdress_change", args=[entry.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"address": "bc1qstolenaddress0099", "label": "x"})
    assert client.post(ADDRESSES + "add/", {}).status_code == 403
    delete = reverse("admin:wallets_withdrawaladdress_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert WithdrawalAddress.objects.get().address == ADDRESS


def test_the_new_screens_are_in_the_funding_menu(client, compliance):
    admin_login(client, compliance)

    html = client.get(reverse("admin:index")).content.decode()
    funding = html[html.index("Funding") :]
    for url in (LIMITS, ADDRESSES, reverse("admin:wallets_withdrawalwhitelist_changelist")):
        assert url in funding


def test_the_customer_page_shows_the_tier_and_the_whitelisted_addresses(client, compliance, trader, btc):
    add_address(trader, btc)
    User.objects.filter(pk=trader.pk).update(tier=4)
    admin_login(client, compliance)

    html = client.get(f"/admin/customers/{trader.pk}/").content.decode()
    export = client.get(f"/admin/customers/{trader.pk}/whitelist.csv")

    assert 'id="section-whitelist"' in html
    assert ADDRESS in html
    assert "<th>Verification tier</th><td>4</td>" in html
    body = b"".join(export.streaming_content).decode()
    assert body.splitlines()[0] == "Currency,Address,Label,Added,Usable from"
    assert f"BTC,{ADDRESS},cold wallet," in body
