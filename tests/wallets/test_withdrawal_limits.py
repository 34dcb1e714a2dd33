"""Tier withdrawal limits over a rolling 24 hours, and the dual-approval threshold on the rolling sum."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import StaffAction
from accounts.roles import BACK_OFFICE, COMPLIANCE
from accounts.tiers import account_tier_set
from exchange_site.errors import InvalidInput
from tests.assertions import assert_error
from tests.backoffice.helpers import make_staff, make_trader
from tests.factories import CurrencyFactory, fund
from wallets.models import Withdrawal
from wallets.tier_limits import tier_limit_delete, tier_limit_set
from wallets.withdrawal_controls import WithdrawalLimitExceeded, withdrawal_caps
from wallets.withdrawals import withdrawal_approve, withdrawal_cancel, withdrawal_mark_sent, withdrawal_reject

from .controls import btc_currency, limit, price, withdraw

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def btc(db):
    return btc_currency()


@pytest.fixture
def usdt(db):
    return CurrencyFactory(code="USDT", name="Tether USD", precision=6, dual_approval_threshold=D("1000000"))


@pytest.fixture
def trader(btc):
    return make_trader(btc, "10")


@pytest.fixture
def officer(db):
    return make_staff(BACK_OFFICE, two_factor=False)


def _refused(user, currency, amount) -> dict:
    with pytest.raises(WithdrawalLimitExceeded) as exc:
        withdraw(user, currency, amount)
    return exc.value.details


def test_without_a_limit_for_the_tier_withdrawals_are_not_limited(trader, btc):
    limit(1, btc, "0.1")  # another tier's

    assert withdraw(trader, btc, "5").status == "pending_review"


def test_a_currency_without_a_price_is_limited_in_its_own_units(trader, btc):
    limit(0, btc, "1")
    withdraw(trader, btc, "0.6")

    details = _refused(trader, btc, "0.5")

    assert details == {"currency": "BTC", "limit_24h": "1", "used_24h": "0.6", "remaining": "0.4"}
    assert Withdrawal.objects.count() == 1
    assert withdraw(trader, btc, "0.4").amount == D("0.4"), "exactly the remaining amount passes"
    assert _refused(trader, btc, "0.001")["remaining"] == "0"


def test_a_limit_of_zero_allows_no_withdrawal(trader, btc):
    limit(0, btc, "0")

    assert _refused(trader, btc, "0.001")["remaining"] == "0"


def test_canceled_and_rejected_withdrawals_do_not_count(trader, btc, officer):
    limit(0, btc, "1")
    canceled = withdraw(trader, btc, "0.9")
    withdrawal_cancel(user=trader, withdrawal_id=canceled.pk)
    rejected = withdraw(trader, btc, "0.9")
    withdrawal_reject(actor=officer, withdrawal_id=rejected.pk, reason="no")

    assert withdraw(trader, btc, "1").status == "pending_review"


def test_pending_approved_and_sent_withdrawals_count(trader, btc, officer):
    limit(0, btc, "1")
    withdraw(trader, btc, "0.2")  # pending review
    approved = withdraw(trader, btc, "0.2")
    withdrawal_approve(actor=officer, withdrawal_id=approved.pk)
    sent = withdraw(trader, btc, "0.2")
    withdrawal_approve(actor=officer, withdrawal_id=sent.pk)
    withdrawal_mark_sent(actor=make_staff(BACK_OFFICE, two_factor=False), withdrawal_id=sent.pk, txid="tx1")

    assert _refused(trader, btc, "0.5")["used_24h"] == "0.6"


def test_withdrawals_older_than_24_hours_no_longer_count(trader, btc):
    limit(0, btc, "1")
    old = withdraw(trader, btc, "1")
    Withdrawal.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    assert withdraw(trader, btc, "1").status == "pending_review"


def test_the_reference_currency_limit_values_priced_currencies_at_their_last_price(trader, btc, usdt):
    fund(trader, usdt, "50000")
    price(btc, usdt, "20000")
    limit(0, usdt, "10000")
    withdraw(trader, btc, "0.3")  # worth 6000 USDT

    details = _refused(trader, usdt, "4000.000001")

    assert details == {"currency": "USDT", "limit_24h": "10000", "used_24h": "6000", "remaining": "4000"}
    assert withdraw(trader, usdt, "4000").status == "pending_review"
    assert _refused(trader, btc, "0.001")["remaining"] == "0"


def test_the_last_trade_sets_the_price(trader, btc, usdt):
    price(btc, usdt, "20000")
    price(btc, usdt, "30000")  # a later trade on the same market
    limit(0, usdt, "10000")

    assert _refused(trader, btc, "0.34")["remaining"] == "10000"
    assert withdraw(trader, btc, "0.33").status == "pending_review"


def test_a_currency_without_a_price_is_not_counted_against_the_reference_limit(trader, btc, usdt):
    eth = CurrencyFactory(code="ETH", name="Ether")
    fund(trader, eth, "100")
    limit(0, usdt, "1")

    fund(trader, usdt, "10")

    assert withdraw(trader, eth, "50").status == "pending_review"
    assert withdraw(trader, btc, "2").status == "pending_review", "no BTC-USDT market: BTC has no price"
    assert _refused(trader, usdt, "2")["used_24h"] == "0", "neither counts against the USDT limit"


def test_a_currency_limit_and_the_reference_limit_both_apply(trader, btc, usdt):
    price(btc, usdt, "20000")
    limit(0, usdt, "100000")
    limit(0, btc, "0.5")

    assert _refused(trader, btc, "0.6")["currency"] == "BTC"
    withdraw(trader, btc, "0.5")
    details = _refused(trader, btc, "0.001")
    assert (details["currency"], details["remaining"]) == ("BTC", "0")


def test_the_caps_report_what_each_counts(trader, btc, usdt):
    eth = CurrencyFactory(code="ETH", name="Ether")
    price(btc, usdt, "20000")
    limit(0, usdt, "10000")
    limit(0, eth, "5")
    withdraw(trader, btc, "0.1")

    caps = {cap.currency.code: cap for cap in withdrawal_caps(user_id=trader.pk, tier=0)}

    assert set(caps) == {"USDT", "ETH"}
    assert (caps["USDT"].used_24h, caps["USDT"].remaining) == (D("2000"), D("8000"))
    assert set(caps["USDT"].rates) == {btc.pk, usdt.pk}
    assert (caps["ETH"].used_24h, caps["ETH"].remaining) == (D("0"), D("5"))


def test_a_higher_tier_gets_its_own_limits_and_the_change_is_recorded(trader, btc):
    limit(0, btc, "0.5")
    limit(1, btc, "5")
    compliance = make_staff(COMPLIANCE, two_factor=False)
    assert _refused(trader, btc, "1")["limit_24h"] == "0.5"

    account_tier_set(actor=compliance, user=trader, tier=1)

    assert withdraw(trader, btc, "1").status == "pending_review"
    record = StaffAction.objects.get(action="account.tier_set")
    assert (record.actor_id, record.object_id, record.before, record.after) == (
        compliance.pk,
        str(trader.pk),
        {"tier": 0},
        {"tier": 1},
    )


@pytest.mark.parametrize("tier", [-1, 10, "1", 1.0, True, None])
def test_a_tier_outside_0_to_9_is_refused(trader, tier):
    with pytest.raises(InvalidInput):
        account_tier_set(actor=make_staff(COMPLIANCE, two_factor=False), user=trader, tier=tier)
    trader.refresh_from_db()
    assert trader.tier == 0
    assert not StaffAction.objects.exists()


def test_setting_the_same_tier_records_nothing(trader):
    account_tier_set(actor=make_staff(COMPLIANCE, two_factor=False), user=trader, tier=0)

    assert not StaffAction.objects.exists()


def test_tier_limit_changes_are_recorded_with_before_and_after(btc):
    staff = make_staff(BACK_OFFICE, two_factor=False)

    row = tier_limit_set(actor=staff, tier=2, currency=btc, limit_24h=D("3"))
    tier_limit_set(actor=staff, tier=2, currency=btc, limit_24h=D("4.5"))
    tier_limit_delete(actor=staff, tier_limit_id=row.pk)

    records = list(StaffAction.objects.order_by("id").values_list("action", "before", "after"))
    assert records == [
        ("tier_limit.set", None, {"tier": 2, "currency": "BTC", "limit_24h": "3"}),
        (
            "tier_limit.set",
            {"tier": 2, "currency": "BTC", "limit_24h": "3"},
            {"tier": 2, "currency": "BTC", "limit_24h": "4.5"},
        ),
        ("tier_limit.delete", {"tier": 2, "currency": "BTC", "limit_24h": "4.5"}, None),
    ]


@pytest.mark.parametrize("value", [D("-1"), D("NaN"), D("Infinity"), D("1e18"), D("0.0000000000000000001"), "5"])
def test_a_bad_tier_limit_is_refused(btc, value):
    with pytest.raises(InvalidInput):
        tier_limit_set(actor=make_staff(BACK_OFFICE, two_factor=False), tier=0, currency=btc, limit_24h=value)
    assert not StaffAction.objects.exists()


# -- the dual-approval threshold counts the rolling sum -------------------------------------


def test_splitting_a_withdrawal_does_not_avoid_the_second_approver(trader, btc):
    assert withdraw(trader, btc, "0.6").required_approvals == 1

    assert withdraw(trader, btc, "0.4").required_approvals == 2, "0.6 + 0.4 reaches the threshold of 1"
    assert withdraw(trader, btc, "0.01").required_approvals == 2


def test_the_threshold_forgets_canceled_withdrawals_and_those_older_than_24_hours(trader, btc):
    canceled = withdraw(trader, btc, "0.9")
    withdrawal_cancel(user=trader, withdrawal_id=canceled.pk)
    old = withdraw(trader, btc, "0.9")
    Withdrawal.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert withdraw(trader, btc, "0.9").required_approvals == 1


def test_the_threshold_counts_each_currency_apart(trader, btc, usdt):
    fund(trader, usdt, "100")
    withdraw(trader, usdt, "99")

    assert withdraw(trader, btc, "0.5").required_approvals == 1


# -- the API --------------------------------------------------------------------------------


def test_the_api_refuses_with_the_remaining_amount(trader, btc, auth_client):
    from tests.otp import fresh_otp

    limit(0, btc, "1")
    withdraw(trader, btc, "0.75")

    response = auth_client(trader).post(
        "/api/v1/withdrawals",
        {"currency": "BTC", "amount": "0.5", "address": "bc1qexampleaddress0001", "otp": fresh_otp(trader)},
        format="json",
    )

    error = assert_error(response, 400, "withdrawal_limit_exceeded")
    assert error["details"]["remaining"] == "0.25"


def test_the_reference_currency_is_a_setting(trader, btc, settings):
    settings.WITHDRAWAL_LIMIT_REFERENCE_CURRENCY = "BTC"
    eth = CurrencyFactory(code="ETH", name="Ether")
    fund(trader, eth, "100")
    price(eth, btc, "0.05")
    limit(0, btc, "1")
    withdraw(trader, eth, "10")  # worth 0.5 BTC

    details = _refused(trader, eth, "15")

    assert (details["currency"], details["used_24h"], details["remaining"]) == ("BTC", "0.5", "0.5")
    assert withdraw(trader, btc, "0.5").status == "pending_review"


def test_a_refusal_by_the_limit_leaves_the_one_time_password_unused(trader, btc):
    from tests.otp import fresh_otp
    from wallets.withdrawals import withdrawal_request

    limit(0, btc, "1")
    code = fresh_otp(trader)
    with pytest.raises(WithdrawalLimitExceeded):
        withdrawal_request(user=trader, currency=btc, amount=D("2"), address="bc1qexampleaddress0001", otp=code)

    accepted = withdrawal_request(user=trader, currency=btc, amount=D("1"), address="bc1qexampleaddress0001", otp=code)
    assert accepted.status == "pending_review"
