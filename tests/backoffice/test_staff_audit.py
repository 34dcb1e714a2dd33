"""The staff audit trail: every staff action recorded (who, what, before, after, IP), and nobody changes a row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts.models import StaffAction
from accounts.roles import BACK_OFFICE
from accounts.two_factor_resets import two_factor_reset_approve, two_factor_reset_propose
from apikeys.services import api_key_create
from markets.services_settings import currency_update
from tests.factories import MarketFactory, UserFactory
from wallets.manual_deposits import manual_deposit_approve, manual_deposit_propose

from .helpers import PASSWORD, admin_login, enable_2fa, fresh_otp, make_staff, request_withdrawal

pytestmark = pytest.mark.django_db

IP = "203.0.113.9"


def _actions(**filters) -> list[StaffAction]:
    return list(StaffAction.objects.filter(**filters).order_by("id"))


def _one(action: str) -> StaffAction:
    rows = _actions(action=action)
    assert len(rows) == 1, [r.action for r in StaffAction.objects.all()]
    return rows[0]


def test_withdrawal_decisions_through_the_api_are_recorded_with_before_after_and_ip(
    trader, btc, officer, officer2, auth_client
):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    client = auth_client(officer)
    client.post(f"/api/v1/backoffice/withdrawals/{withdrawal.pk}/approve", {}, format="json", REMOTE_ADDR=IP)
    auth_client(officer2).post(
        f"/api/v1/backoffice/withdrawals/{withdrawal.pk}/sent", {"txid": "tx-1"}, format="json", REMOTE_ADDR=IP
    )
    other = request_withdrawal(trader, btc, "0.1")
    client.post(f"/api/v1/backoffice/withdrawals/{other.pk}/reject", {"reason": "aml"}, format="json", REMOTE_ADDR=IP)

    approve, sent, reject = _one("withdrawal.approve"), _one("withdrawal.mark_sent"), _one("withdrawal.reject")
    assert (approve.actor, approve.actor_email, approve.ip) == (officer, officer.email, IP)
    assert (approve.object_type, approve.object_id) == ("wallets.withdrawal", str(withdrawal.pk))
    assert (approve.before["status"], approve.after["status"]) == ("pending_review", "approved")
    assert (sent.actor, sent.before["status"], sent.after["status"], sent.ip) == (officer2, "approved", "completed", IP)
    assert (reject.before["status"], reject.after["status"], reject.after["reason"]) == (
        "pending_review",
        "rejected",
        "aml",
    )


def test_a_refused_decision_leaves_no_record(trader, btc, auth_client):
    withdrawal = request_withdrawal(trader, btc, "0.5")
    client = auth_client(trader)
    response = client.post(f"/api/v1/backoffice/withdrawals/{withdrawal.pk}/approve", {}, format="json")

    assert response.status_code == 403
    assert not StaffAction.objects.filter(action__startswith="withdrawal.").exists()


def test_manual_deposits_are_recorded(officer, officer2, btc):
    customer = UserFactory()
    proposal = manual_deposit_propose(actor=officer, user=customer, currency=btc, amount=Decimal("2"), reason="lost tx")
    manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk, comment="ok")

    propose, approve = _one("manual_deposit.propose"), _one("manual_deposit.approve")
    assert (propose.actor, propose.before, propose.after["amount"], propose.after["status"]) == (
        officer,
        None,
        "2",
        "proposed",
    )
    assert (approve.actor, approve.before, approve.after["status"]) == (officer2, {"status": "proposed"}, "approved")


def test_two_factor_resets_and_staff_enrolment_are_recorded_but_a_traders_enrolment_is_not(officer, officer2):
    customer = UserFactory()
    enable_2fa(customer)
    assert not StaffAction.objects.filter(actor=customer).exists()
    assert _actions(action="staff.two_factor_enrol", actor=officer)  # make_staff enrolled them

    reset = two_factor_reset_propose(actor=officer, user=customer, reason="passport checked")
    two_factor_reset_approve(actor=officer2, reset_id=reset.pk)

    propose, approve = _one("two_factor_reset.propose"), _one("two_factor_reset.approve")
    assert (propose.actor, propose.after["status"], propose.after["user_id"]) == (officer, "proposed", customer.pk)
    assert (approve.actor, approve.before, approve.after["status"]) == (officer2, {"status": "proposed"}, "approved")


def test_admin_logins_are_recorded_success_and_every_failure(client):
    staff = make_staff(BACK_OFFICE)
    trader = UserFactory()

    client.post("/admin/login/", {"username": staff.email, "password": "wrong", "otp_token": "123456"}, REMOTE_ADDR=IP)
    client.post("/admin/login/", {"username": staff.email, "password": PASSWORD, "otp_token": "000000"}, REMOTE_ADDR=IP)
    client.post("/admin/login/", {"username": trader.email, "password": PASSWORD, "otp_token": "1"}, REMOTE_ADDR=IP)
    admin_login(client, staff)

    failures = _actions(action="admin.login_failed")
    assert [(f.actor_email, f.after["reason"], f.ip) for f in failures] == [
        (staff.email, "password", IP),
        (staff.email, "otp_or_role", IP),
        (trader.email, "otp_or_role", IP),
    ]
    login = _one("admin.login")
    assert (login.actor, login.object_id) == (staff, str(staff.pk))


def test_api_logins_are_not_admin_logins(api):
    staff = make_staff(BACK_OFFICE)
    api.post("/api/v1/auth/token", {"email": staff.email, "password": "wrong"}, format="json")
    api.post("/api/v1/auth/token", {"email": staff.email, "password": PASSWORD, "otp": fresh_otp(staff)}, format="json")

    assert not StaffAction.objects.filter(action__startswith="admin.").exists()


def test_settings_changes_and_halts_are_recorded(btc, market_ops, client):
    currency_update(actor=market_ops, currency_id=btc.pk, changes={"min_withdrawal": "0.01"}, reason="dust")
    market = MarketFactory(base=btc)
    admin_login(client, market_ops)
    client.post(
        reverse("admin:markets_market_decide", args=[market.pk, "halt"]),
        {"confirm": "yes", "reason": "chain halt"},
        REMOTE_ADDR=IP,
    )

    change = _one("currency.change")
    assert (change.actor, change.before, change.after["min_withdrawal"]) == (
        market_ops,
        {"min_withdrawal": "0.001"},
        "0.01",
    )
    halt = _one("market.halt")
    assert (halt.actor, halt.before, halt.after["status"], halt.ip) == (market_ops, {"status": "open"}, "halted", IP)


def test_api_key_disables_are_recorded(officer, client, settings):
    settings.API_KEY_ENCRYPTION_KEY = "test-only-api-key-encryption-key"
    customer = UserFactory()
    key, _ = api_key_create(user_id=customer.pk, name="bot", permissions=["read"])
    admin_login(client, officer)

    client.post(
        reverse("admin:apikeys_apikey_decide", args=[key.pk, "disable"]),
        {"confirm": "yes", "reason": "leaked on a forum"},
        REMOTE_ADDR=IP,
    )

    row = _one("api_key.disable")
    assert (row.actor, row.before, row.after["enabled"], row.after["reason"], row.ip) == (
        officer,
        {"enabled": True},
        False,
        "leaked on a forum",
        IP,
    )


# -- the admin screen -----------------------------------------------------------------------


@pytest.fixture
def recorded(officer, officer2, btc):
    customer = UserFactory()
    proposal = manual_deposit_propose(actor=officer, user=customer, currency=btc, amount=Decimal("1"), reason="r")
    manual_deposit_approve(actor=officer2, manual_deposit_id=proposal.pk)
    return StaffAction.objects.get(action="manual_deposit.approve")


def test_compliance_reads_the_trail_with_filters_and_exports_it(client, compliance, recorded, officer2):
    admin_login(client, compliance)
    changelist = reverse("admin:accounts_staffaction_changelist")

    page = client.get(changelist, {"actor": officer2.pk, "action": "manual_deposit.approve"}).content.decode()
    assert '<td class="field-action">manual_deposit.approve</td>' in page
    assert '<td class="field-action">manual_deposit.propose</td>' not in page
    assert client.get(reverse("admin:accounts_staffaction_change", args=[recorded.pk])).status_code == 200
    response = client.post(changelist, {"action": "export_as_csv", "_selected_action": [recorded.pk]})
    assert response.status_code == 200
    assert "manual_deposit.approve" in b"".join(response.streaming_content).decode()


def test_nobody_changes_or_deletes_a_row_in_the_admin_superusers_included(client, recorded):
    root = UserFactory(is_staff=True, is_superuser=True)
    enable_2fa(root)
    admin_login(client, root)

    change = reverse("admin:accounts_staffaction_change", args=[recorded.pk])
    page = client.get(change).content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page
    assert client.post(change, {"action": "tampered"}).status_code == 403
    assert (
        client.post(reverse("admin:accounts_staffaction_delete", args=[recorded.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert client.get(reverse("admin:accounts_staffaction_add")).status_code == 403
    recorded.refresh_from_db()
    assert recorded.action == "manual_deposit.approve"


def test_back_office_does_not_read_the_trail(client, officer, recorded):
    admin_login(client, officer)

    assert client.get(reverse("admin:accounts_staffaction_changelist")).status_code == 403


@pytest.mark.postgres
def test_postgres_refuses_update_delete_and_truncate_of_the_trail(recorded):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    for statement in (
        "UPDATE accounts_staffaction SET action = 'x'",
        "DELETE FROM accounts_staffaction",
        # (The test's deferred foreign-key checks would refuse a TRUNCATE before the trigger does.)
        "SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL exchange.allow_audit_truncate = off; TRUNCATE accounts_staffaction",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StaffAction.objects.filter(pk=recorded.pk).update(action="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StaffAction.objects.filter(pk=recorded.pk).delete()
    assert StaffAction.objects.get(pk=recorded.pk).action == "manual_deposit.approve"
