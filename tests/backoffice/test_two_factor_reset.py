"""Staff-assisted 2FA reset: proposed by one staff member, approved by a second, recorded."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import SessionFamily, TwoFactorReset
from accounts.roles import BACK_OFFICE
from accounts.selectors import two_factor_enabled
from accounts.two_factor_resets import two_factor_reset_approve, two_factor_reset_propose, two_factor_reset_reject
from exchange_site.errors import DomainError
from tests.factories import PASSWORD, UserFactory

from .helpers import admin_login, enable_2fa, fresh_otp, make_staff

pytestmark = pytest.mark.django_db

PROPOSE = "/api/v1/backoffice/accounts/{}/two-factor-reset"
LIST = "/api/v1/backoffice/two-factor-resets"
APPROVE = "/api/v1/backoffice/two-factor-resets/{}/approve"
REJECT = "/api/v1/backoffice/two-factor-resets/{}/reject"
REASON = "ticket 881: video call, passport checked, phone lost"


@pytest.fixture
def customer(db):
    user = UserFactory()
    enable_2fa(user)
    return user


def _code(response) -> str:
    return response.json()["error"]["code"]


def _login_pair(user) -> dict:
    body = {"email": user.email, "password": PASSWORD}
    if two_factor_enabled(user=user):
        body["otp"] = fresh_otp(user)
    return APIClient().post("/api/v1/auth/token", body, format="json").json()


# -- services: four eyes ------------------------------------------------------------------


def test_a_proposal_changes_nothing_for_the_user(officer, customer):
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)

    assert reset.status == TwoFactorReset.Status.PROPOSED
    assert two_factor_enabled(user=customer) is True


def test_approval_by_a_second_staff_member_removes_2fa_and_ends_every_session(officer, officer2, customer):
    pair = _login_pair(customer)
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)

    approved = two_factor_reset_approve(actor=officer2, reset_id=reset.pk, comment="identity confirmed twice")

    assert not TOTPDevice.objects.filter(user=customer).exists()
    assert not StaticDevice.objects.filter(user=customer).exists()
    refused = APIClient().post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert refused.status_code == 401
    assert SessionFamily.objects.get(user=customer).revoked_reason == SessionFamily.Reason.TWO_FACTOR_RESET
    # Who, when and why, both for the proposal and for the decision.
    approved.refresh_from_db()
    assert (approved.proposed_by_id, approved.reason) == (officer.pk, REASON)
    assert (approved.decided_by_id, approved.decision_reason) == (officer2.pk, "identity confirmed twice")
    assert approved.status == TwoFactorReset.Status.APPROVED
    assert approved.proposed_at is not None
    assert approved.decided_at >= approved.proposed_at


def test_the_proposer_cannot_approve_their_own_proposal(officer, customer):
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)

    with pytest.raises(DomainError) as exc:
        two_factor_reset_approve(actor=officer, reset_id=reset.pk)

    assert exc.value.code == "self_approval"
    assert two_factor_enabled(user=customer) is True


def test_nobody_proposes_or_decides_a_reset_of_their_own_account(officer, officer2):
    with pytest.raises(DomainError) as exc:
        two_factor_reset_propose(actor=officer, user=officer, reason=REASON)
    assert exc.value.code == "self_approval"

    reset = two_factor_reset_propose(actor=officer2, user=officer, reason=REASON)
    with pytest.raises(DomainError) as exc:
        two_factor_reset_approve(actor=officer, reset_id=reset.pk)
    assert exc.value.code == "self_approval"
    assert two_factor_enabled(user=officer) is True


def test_a_decided_reset_cannot_be_decided_again(officer, officer2, customer):
    third = make_staff(BACK_OFFICE)
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)
    two_factor_reset_reject(actor=officer2, reset_id=reset.pk, reason="caller could not answer")

    for decide in (
        lambda: two_factor_reset_approve(actor=third, reset_id=reset.pk),
        lambda: two_factor_reset_reject(actor=officer2, reset_id=reset.pk, reason="again"),
    ):
        with pytest.raises(DomainError) as exc:
            decide()
        assert exc.value.code == "already_decided"
    assert two_factor_enabled(user=customer) is True


def test_one_open_proposal_per_user(officer, officer2, customer):
    two_factor_reset_propose(actor=officer, user=customer, reason=REASON)

    with pytest.raises(DomainError) as exc:
        two_factor_reset_propose(actor=officer2, user=customer, reason=REASON)

    assert exc.value.code == "reset_already_proposed"


def test_a_reset_needs_a_reason_and_a_user_with_2fa(officer):
    without = UserFactory()
    with pytest.raises(DomainError) as exc:
        two_factor_reset_propose(actor=officer, user=without, reason=REASON)
    assert exc.value.code == "two_factor_not_enabled"

    enable_2fa(without)
    with pytest.raises(DomainError) as exc:
        two_factor_reset_propose(actor=officer, user=without, reason="   ")
    assert exc.value.code == "validation_error"


# -- back-office API ----------------------------------------------------------------------


def test_api_propose_then_approve_by_another_member(auth_client, officer, officer2, customer):
    proposed = auth_client(officer).post(PROPOSE.format(customer.pk), {"reason": REASON}, format="json")
    assert proposed.status_code == 201, proposed.content
    body = proposed.json()
    assert (body["status"], body["user"]["id"], body["proposed_by"]["id"]) == ("proposed", customer.pk, officer.pk)
    assert body["decided_by"] is None

    own = auth_client(officer).post(APPROVE.format(body["id"]), {}, format="json")
    assert (own.status_code, _code(own)) == (409, "self_approval")

    approved = auth_client(officer2).post(APPROVE.format(body["id"]), {"comment": "ok"}, format="json")
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decided_by"]["id"]) == ("approved", officer2.pk)
    assert two_factor_enabled(user=customer) is False

    again = auth_client(officer2).post(REJECT.format(body["id"]), {"reason": "late"}, format="json")
    assert (again.status_code, _code(again)) == (409, "already_decided")


def test_api_list_shows_proposals_by_status(auth_client, officer, officer2, customer):
    two_factor_reset_propose(actor=officer, user=customer, reason=REASON)

    page = auth_client(officer2).get(LIST, {"status": "proposed"}).json()

    assert [r["user"]["email"] for r in page["results"]] == [customer.email]
    assert auth_client(officer2).get(LIST, {"status": "approved"}).json()["results"] == []


@pytest.mark.parametrize("who", ["trader", "compliance", "market_ops", "officer_without_2fa", "anonymous"])
def test_api_refuses_everyone_but_back_office_staff_with_2fa(auth_client, who, officer, customer, request):
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)
    if who == "anonymous":
        client = APIClient()
    elif who == "trader":
        client = auth_client(customer)
    elif who == "officer_without_2fa":
        client = auth_client(make_staff(BACK_OFFICE, two_factor=False))
    else:
        client = auth_client(request.getfixturevalue(who))
    expected = 401 if who == "anonymous" else 403

    listed = client.get(LIST)
    responses = [
        client.post(PROPOSE.format(customer.pk), {"reason": REASON}, format="json"),
        client.post(APPROVE.format(reset.pk), {}, format="json"),
        client.post(REJECT.format(reset.pk), {"reason": "no"}, format="json"),
    ]

    # Compliance reads the proposals (as the rest of the back office), and decides nothing.
    assert listed.status_code == (200 if who == "compliance" else expected)
    assert [r.status_code for r in responses] == [expected] * 3
    assert TwoFactorReset.objects.get().status == TwoFactorReset.Status.PROPOSED
    assert two_factor_enabled(user=customer) is True


@pytest.mark.parametrize("pk", [0, 999_999, 2**63, 10**30])
def test_api_unknown_ids_are_not_found(auth_client, officer, pk):
    client = auth_client(officer)

    for response in (
        client.post(PROPOSE.format(pk), {"reason": REASON}, format="json"),
        client.post(APPROVE.format(pk), {}, format="json"),
        client.post(REJECT.format(pk), {"reason": "x"}, format="json"),
    ):
        assert (response.status_code, _code(response)) == (404, "not_found")


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": None}, {"reason": ["x"]}, {"reason": "x" * 2001}],
)
def test_api_malformed_bodies_are_refused_cleanly(auth_client, officer, officer2, customer, body):
    reset = two_factor_reset_propose(actor=officer2, user=make_staff(BACK_OFFICE), reason=REASON)
    client = auth_client(officer)

    for url in (PROPOSE.format(customer.pk), REJECT.format(reset.pk)):
        response = client.post(url, body, format="json")
        assert (response.status_code, _code(response)) == (400, "validation_error"), response.content
    for raw in (b"not json", b"[1]", b"null"):
        response = client.generic("POST", APPROVE.format(reset.pk), raw, content_type="application/json")
        assert 400 <= response.status_code < 500
    assert TwoFactorReset.objects.filter(status="proposed").count() == 1


def test_api_bad_status_filter_is_a_validation_error(auth_client, officer):
    response = auth_client(officer).get(LIST, {"status": "everything"})

    assert (response.status_code, _code(response)) == (400, "validation_error")


# -- admin ----------------------------------------------------------------------------------


def test_admin_propose_and_approve_by_two_members_read_only_afterwards(client, officer, officer2, customer):
    admin_login(client, officer)
    response = client.post(
        reverse("admin:accounts_twofactorreset_add"), {"user": customer.pk, "reason": REASON}, follow=True
    )
    assert response.status_code == 200
    reset = TwoFactorReset.objects.get()
    assert (reset.proposed_by_id, reset.status) == (officer.pk, "proposed")
    page = client.get(reverse("admin:accounts_twofactorreset_change", args=[reset.pk])).content.decode()
    assert 'id="decide-approve"' not in page
    assert "another staff member must decide" in page

    client.logout()
    admin_login(client, officer2)
    page = client.get(reverse("admin:accounts_twofactorreset_change", args=[reset.pk])).content.decode()
    assert 'id="decide-approve"' in page
    url = reverse("admin:accounts_twofactorreset_decide", args=[reset.pk, "approve"])
    assert client.post(url, {"confirm": "yes", "comment": "checked"}).status_code == 302

    reset.refresh_from_db()
    assert (reset.status, reset.decided_by_id) == ("approved", officer2.pk)
    assert two_factor_enabled(user=customer) is False
    page = client.get(reverse("admin:accounts_twofactorreset_change", args=[reset.pk])).content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page


def test_admin_proposer_approving_by_url_gets_self_approval(client, officer, customer):
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)
    admin_login(client, officer)

    url = reverse("admin:accounts_twofactorreset_decide", args=[reset.pk, "approve"])
    response = client.post(url, {"confirm": "yes"}, follow=True)

    assert "self_approval" in response.content.decode()
    assert two_factor_enabled(user=customer) is True


def test_admin_refuses_a_second_open_proposal_on_the_form(client, officer, officer2, customer):
    two_factor_reset_propose(actor=officer2, user=customer, reason=REASON)
    admin_login(client, officer)

    response = client.post(reverse("admin:accounts_twofactorreset_add"), {"user": customer.pk, "reason": REASON})

    assert response.status_code == 200
    assert b"already waiting" in response.content
    assert TwoFactorReset.objects.count() == 1


def test_compliance_sees_resets_but_cannot_propose_or_decide(client, compliance, officer, customer):
    reset = two_factor_reset_propose(actor=officer, user=customer, reason=REASON)
    admin_login(client, compliance)

    assert client.get(reverse("admin:accounts_twofactorreset_change", args=[reset.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_twofactorreset_add")).status_code == 403
    url = reverse("admin:accounts_twofactorreset_decide", args=[reset.pk, "approve"])
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert two_factor_enabled(user=customer) is True
