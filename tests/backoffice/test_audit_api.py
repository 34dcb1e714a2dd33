"""GET /api/v1/backoffice/audit: compliance reads the staff audit trail, filtered and paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import staff_action_record
from accounts.roles import MARKET_OPS
from tests.assertions import assert_error
from tests.factories import UserFactory

from .helpers import make_staff

pytestmark = pytest.mark.django_db

URL = "/api/v1/backoffice/audit"


@pytest.fixture
def trail(officer, officer2):
    for n in range(3):
        staff_action_record(
            actor=officer,
            action="withdrawal.approve",
            object_type="wallets.withdrawal",
            object_id=n,
            before={"status": "pending_review"},
            after={"status": "approved"},
            ip="198.51.100.7",
        )
    staff_action_record(actor=officer2, action="account.freeze", object_type="accounts.user", object_id=5)
    staff_action_record(actor=None, actor_email="nobody@example.com", action="admin.login_failed")
    return officer, officer2


def test_compliance_reads_the_trail_newest_first_with_every_field(auth_client, compliance, trail):
    officer, _ = trail
    body = auth_client(compliance).get(URL, {"action": "withdrawal.approve"}).json()

    assert [r["object_id"] for r in body["results"]] == ["2", "1", "0"]
    first = body["results"][0]
    assert set(first) == {
        "id",
        "at",
        "actor_id",
        "actor_email",
        "action",
        "object_type",
        "object_id",
        "before",
        "after",
        "ip",
    }
    assert (first["actor_id"], first["actor_email"], first["ip"]) == (officer.pk, officer.email, "198.51.100.7")
    assert (first["before"], first["after"]) == ({"status": "pending_review"}, {"status": "approved"})
    assert body["next"] is None


def test_filters_by_actor_id_or_email_and_since(auth_client, compliance, trail):
    officer, officer2 = trail
    client = auth_client(compliance)

    by_id = client.get(URL, {"actor": str(officer2.pk)}).json()["results"]
    assert [r["action"] for r in by_id] == ["account.freeze", "staff.two_factor_enrol"]  # make_staff enrolled them
    by_email = client.get(URL, {"actor": officer.email.upper(), "action": "withdrawal.approve"}).json()["results"]
    assert len(by_email) == 3
    unknown = client.get(URL, {"actor": "nobody@example.com"}).json()["results"]
    assert [r["action"] for r in unknown] == ["admin.login_failed"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.get(URL, {"since": future}).json()["results"] == []
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(client.get(URL, {"since": past, "action": "withdrawal.approve"}).json()["results"]) == 3


def test_pages_follow_the_cursor(auth_client, compliance, trail):
    client = auth_client(compliance)
    first = client.get(URL, {"action": "withdrawal.approve", "limit": 2}).json()
    second = client.get(URL, {"action": "withdrawal.approve", "limit": 2, "cursor": first["next"]}).json()

    assert [r["object_id"] for r in first["results"] + second["results"]] == ["2", "1", "0"]
    assert second["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"since": "yesterday"},
        {"since": "2026-13-45T00:00:00Z"},
        {"limit": "0"},
        {"limit": "abc"},
        {"cursor": "!!"},
        {"actor": "x" * 300},
        {"action": "a" * 65},
    ],
)
def test_hostile_queries_are_validation_errors(auth_client, compliance, query):
    assert_error(auth_client(compliance).get(URL, query), 400, "validation_error")


@pytest.mark.parametrize("actor", ["99999999999999999999999", "0", "-1", "1 OR 1=1", "%", "' --"])
def test_odd_actor_filters_find_nothing_and_never_fail(auth_client, compliance, trail, actor):
    response = auth_client(compliance).get(URL, {"actor": actor})

    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.json()["results"] == []


@pytest.mark.parametrize("who", ["anonymous", "trader", "back_office", "market_ops", "compliance_without_2fa"])
def test_only_compliance_with_2fa_reads_the_trail(api, auth_client, officer, who, trail):
    if who == "anonymous":
        client = api
    elif who == "trader":
        client = auth_client(UserFactory())
    elif who == "back_office":
        client = auth_client(officer)
    elif who == "market_ops":
        client = auth_client(make_staff(MARKET_OPS))
    else:
        client = auth_client(make_staff("compliance", two_factor=False))

    response = client.get(URL)

    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied")
