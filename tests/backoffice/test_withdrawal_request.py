"""Requesting a withdrawal: 2FA code, currency rules, amount + fee locked, history written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.assertions import assert_error
from wallets.models import LedgerEntry, Withdrawal, WithdrawalEvent

from .helpers import balance, fresh_otp, make_trader, request_withdrawal

pytestmark = pytest.mark.django_db

URL = "/api/v1/withdrawals"


def _body(user, **overrides):
    body = {"currency": "BTC", "amount": "0.5", "address": "bc1qexampleaddress0001"}
    body.update(overrides)
    if "otp" not in overrides:
        body["otp"] = fresh_otp(user)
    return body


def test_request_locks_amount_plus_fee_and_waits_for_review(trader, btc, auth_client):
    response = auth_client(trader).post(URL, _body(trader), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "pending_review"
    assert (data["currency"], data["amount"], data["fee"]) == ("BTC", "0.5", "0.0005")
    assert data["address"] == "bc1qexampleaddress0001"
    assert [h["action"] for h in data["history"]] == ["request", "submit"]
    assert balance(trader, btc) == (Decimal("10"), Decimal("0.5005"))
    lock = LedgerEntry.objects.get(user=trader, kind=LedgerEntry.Kind.WITHDRAWAL_LOCK)
    assert (lock.amount, lock.locked_change, lock.reference) == (0, Decimal("0.5005"), f"withdrawal:{data['id']}")


def test_request_history_records_who_when_and_each_transition(trader, btc):
    withdrawal = request_withdrawal(trader, btc, "0.5")

    events = list(WithdrawalEvent.objects.filter(withdrawal=withdrawal).order_by("id"))
    assert [(e.action, e.from_status, e.to_status, e.actor_id) for e in events] == [
        ("request", "", "requested", trader.pk),
        ("submit", "requested", "pending_review", None),
    ]
    assert all(e.created_at is not None for e in events)


@pytest.mark.parametrize(
    ("amount", "required"),
    [("0.999", 1), ("1", 2), ("2.5", 2)],
)
def test_amounts_at_or_above_the_dual_threshold_need_two_approvers(trader, btc, amount, required):
    assert request_withdrawal(trader, btc, amount).required_approvals == required


def test_request_without_2fa_is_refused_and_locks_nothing(btc, auth_client):
    user = make_trader(btc, "10", two_factor=False)

    response = auth_client(user).post(
        URL, {"currency": "BTC", "amount": "0.5", "address": "bc1qexampleaddress0001", "otp": "123456"}, format="json"
    )

    assert_error(response, 403, "two_factor_required")
    assert balance(user, btc) == (Decimal("10"), Decimal("0"))


def test_request_without_otp_is_refused(trader, btc, auth_client):
    response = auth_client(trader).post(URL, _body(trader, otp=""), format="json")

    assert_error(response, 401, "otp_required")
    assert not Withdrawal.objects.exists()


def test_request_with_a_wrong_otp_is_refused_and_locks_nothing(trader, btc, auth_client):
    good = fresh_otp(trader)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"

    response = auth_client(trader).post(URL, _body(trader, otp=wrong), format="json")

    assert_error(response, 401, "invalid_otp")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
    assert not Withdrawal.objects.exists()


def test_an_otp_code_cannot_be_used_for_two_withdrawals(trader, btc, auth_client):
    client = auth_client(trader)
    code = fresh_otp(trader)
    assert client.post(URL, _body(trader, otp=code), format="json").status_code == 201

    assert_error(client.post(URL, _body(trader, otp=code), format="json"), 401, "invalid_otp")
    assert Withdrawal.objects.count() == 1


def test_request_is_refused_when_withdrawals_are_disabled(trader, btc, auth_client):
    btc.withdrawals_enabled = False
    btc.save()

    assert_error(auth_client(trader).post(URL, _body(trader), format="json"), 400, "withdrawals_disabled")


def test_request_below_the_minimum_is_refused(trader, btc, auth_client):
    assert_error(auth_client(trader).post(URL, _body(trader, amount="0.0009"), format="json"), 400, "min_withdrawal")


def test_request_at_the_minimum_is_accepted(trader, btc, auth_client):
    assert auth_client(trader).post(URL, _body(trader, amount="0.001"), format="json").status_code == 201


def test_request_beyond_the_available_balance_counts_the_fee(trader, btc, auth_client):
    # 10 available: 10 itself would need 10.0005 with the fee.
    response = auth_client(trader).post(URL, _body(trader, amount="10"), format="json")

    assert_error(response, 400, "insufficient_funds")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))

    assert auth_client(trader).post(URL, _body(trader, amount="9.9995"), format="json").status_code == 201
    assert balance(trader, btc) == (Decimal("10"), Decimal("10"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": "0.123456789"},  # more decimals than the currency's precision
        {"amount": "-1"},
        {"amount": "abc"},
        {"amount": "NaN"},
        {"address": "short"},
        {"address": "bc1q<script>alert(1)</script>"},
        {"address": ""},
        {"currency": "NOPE"},
        {"currency": ""},
    ],
)
def test_malformed_requests_are_refused_with_a_validation_error(trader, btc, auth_client, overrides):
    response = auth_client(trader).post(URL, _body(trader, **overrides), format="json")

    assert_error(response, 400, "validation_error")
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize("payload", [[], "x", 5, None, {"currency": ["BTC"], "amount": {}, "address": 1}])
def test_any_shape_of_body_gets_a_4xx(trader, auth_client, payload):
    response = auth_client(trader).post(URL, payload, format="json")

    assert 400 <= response.status_code < 500


def test_anonymous_request_is_refused(api, btc):
    assert_error(api.post(URL, {"currency": "BTC"}, format="json"), 401, "not_authenticated")


def test_list_shows_only_my_withdrawals_newest_first_with_history(trader, btc, auth_client):
    first = request_withdrawal(trader, btc, "0.1")
    second = request_withdrawal(trader, btc, "0.2")
    other = make_trader(btc, "5")
    request_withdrawal(other, btc, "0.3")

    response = auth_client(trader).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert [w["id"] for w in body["results"]] == [second.pk, first.pk]
    assert body["next"] is None
    assert body["results"][0]["history"][-1]["to_status"] == "pending_review"


def test_list_pages_and_filters_by_status(trader, btc, auth_client):
    ids = [request_withdrawal(trader, btc, "0.1").pk for _ in range(3)]
    client = auth_client(trader)

    page = client.get(URL, {"limit": 2}).json()
    rest = client.get(URL, {"limit": 2, "cursor": page["next"]}).json()

    assert [w["id"] for w in page["results"] + rest["results"]] == ids[::-1]
    assert client.get(URL, {"status": "completed"}).json()["results"] == []
    assert_error(client.get(URL, {"status": "bogus"}), 400, "validation_error")
