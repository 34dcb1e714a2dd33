"""Currency and market settings (markets.services_settings): validated, recorded, four eyes to weaken."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from exchange_site.errors import DomainError
from exchange_site.settings import _max_trading_fee
from markets.models import Currency, Market, SettingChange, SettingProposal
from markets.services_settings import (
    currency_create,
    currency_update,
    market_create,
    market_update,
    setting_proposal_approve,
    setting_proposal_reject,
)
from tests.factories import CurrencyFactory, MarketFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def usdt(db):
    return CurrencyFactory(code="USDT", precision=6)


@pytest.fixture
def market(btc, usdt):
    return MarketFactory(base=btc, quote=usdt)


def _code(exc_info) -> str:
    return exc_info.value.code


# -- every invalid value is refused at the service ---------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("withdrawal_fee", "-0.0001"),
        ("withdrawal_fee", "0.000000001"),  # beyond BTC's 8 decimals
        ("min_withdrawal", "-1"),
        ("min_withdrawal", "0.123456789"),
        ("dual_approval_threshold", "0"),
        ("dual_approval_threshold", "-5"),
        ("dual_approval_threshold", "NaN"),
        ("min_confirmations", "0"),
        ("min_confirmations", "-1"),
        ("withdrawal_fee", "Infinity"),
        ("withdrawal_fee", "not a number"),
    ],
)
def test_invalid_currency_settings_are_refused_and_nothing_is_recorded(btc, market_ops, field, value):
    before = Currency.objects.values().get(pk=btc.pk)

    with pytest.raises(DomainError) as exc:
        currency_update(actor=market_ops, currency_id=btc.pk, changes={field: value}, reason="test")

    assert _code(exc) == "validation_error"
    assert Currency.objects.values().get(pk=btc.pk) == before
    assert not SettingChange.objects.exists()
    assert not SettingProposal.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maker_fee", "-0.001"),
        ("taker_fee", "1.5"),
        ("taker_fee", "0.0100001"),  # above MAX_TRADING_FEE (0.01)
        ("maker_fee", "NaN"),
        ("min_qty", "-1"),
        ("min_notional", "-0.01"),
    ],
)
def test_invalid_market_settings_are_refused(market, market_ops, field, value):
    before = Market.objects.values().get(pk=market.pk)

    with pytest.raises(DomainError) as exc:
        market_update(actor=market_ops, market_id=market.pk, changes={field: value})

    assert _code(exc) == "validation_error"
    assert Market.objects.values().get(pk=market.pk) == before
    assert not SettingChange.objects.exists()
    assert not SettingProposal.objects.exists()


def test_tick_lot_and_identity_cannot_change_after_creation(market, market_ops):
    for field in ("tick_size", "lot_size", "symbol", "base", "status", "last_sequence"):
        with pytest.raises(DomainError) as exc:
            market_update(actor=market_ops, market_id=market.pk, changes={field: "1"})
        assert _code(exc) == "validation_error"
    with pytest.raises(DomainError):
        currency_update(actor=market_ops, currency_id=market.base_id, changes={"precision": 2})


MARKET_VALUES = {
    "symbol": "BTC-USDT",
    "tick_size": D("0.01"),
    "lot_size": D("0.0001"),
    "min_qty": D("0.0001"),
    "min_notional": D("1"),
    "maker_fee": D("0.001"),
    "taker_fee": D("0.002"),
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", D("0")),
        ("tick_size", D("-0.01")),
        ("tick_size", D("0.0000001")),  # beyond the quote's 6 decimals
        ("lot_size", D("0")),
        ("lot_size", D("0.000000001")),  # beyond the base's 8 decimals
        ("min_qty", D("-1")),
        ("min_notional", D("-1")),
        ("maker_fee", D("-0.001")),
        ("taker_fee", D("1.5")),
        ("taker_fee", D("0.02")),
    ],
)
def test_a_market_with_an_invalid_setting_cannot_be_created(btc, usdt, market_ops, field, value):
    with pytest.raises(DomainError) as exc:
        market_create(actor=market_ops, values={**MARKET_VALUES, "base": btc, "quote": usdt, field: value})

    assert _code(exc) == "validation_error"
    assert not Market.objects.exists()


def test_a_market_needs_two_different_currencies(btc, market_ops):
    with pytest.raises(DomainError):
        market_create(actor=market_ops, values={**MARKET_VALUES, "symbol": "BTC-BTC", "base": btc, "quote": btc})
    assert not Market.objects.exists()


def test_a_valid_market_is_created_and_its_creation_recorded(btc, usdt, market_ops):
    market = market_create(actor=market_ops, values={**MARKET_VALUES, "base": btc, "quote": usdt}, reason="launch")

    event = SettingChange.objects.get(market=market)
    assert (event.actor, event.action, event.reason) == (market_ops, "create", "launch")
    assert "taker_fee=0.002" in event.after
    assert "tick_size=0.01" in event.after


@pytest.mark.parametrize(
    ("field", "value"),
    [("dual_approval_threshold", D("0")), ("min_confirmations", 0), ("withdrawal_fee", D("-1"))],
)
def test_a_currency_with_an_invalid_setting_cannot_be_created(market_ops, field, value):
    values = {"code": "ETH", "name": "Ether", "precision": 8, "dual_approval_threshold": D("10"), field: value}
    with pytest.raises(DomainError):
        currency_create(actor=market_ops, values=values)
    assert not Currency.objects.filter(code="ETH").exists()


def test_max_trading_fee_setting_bounds_the_fees(market, market_ops, settings):
    settings.MAX_TRADING_FEE = D("0.05")
    market_update(actor=market_ops, market_id=market.pk, changes={"taker_fee": D("0.03")})
    market.refresh_from_db()
    assert market.taker_fee == D("0.03")


@pytest.mark.parametrize("raw", ["0.5", "-0.001", "NaN", "abc", "1"])
def test_max_trading_fee_setting_itself_is_validated(raw):
    with pytest.raises(ImproperlyConfigured):
        _max_trading_fee(raw)


# -- the database refuses what the services refuse ---------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("taker_fee", D("1.5")), ("maker_fee", D("-0.001")), ("tick_size", D("0")), ("lot_size", 0)]
)
def test_the_database_refuses_a_market_that_would_stall_settlement(market, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Market.objects.filter(pk=market.pk).update(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dual_approval_threshold", D("0")),
        ("min_confirmations", 0),
        ("withdrawal_fee", D("-1")),
        ("min_withdrawal", -1),
    ],
)
def test_the_database_refuses_currency_settings_that_switch_controls_off(btc, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Currency.objects.filter(pk=btc.pk).update(**{field: value})


def test_the_database_refuses_a_proposal_applied_by_its_proposer(btc, market_ops):
    outcome = currency_update(actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("5")})
    proposal = outcome.proposals[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        SettingProposal.objects.filter(pk=proposal.pk).update(status="applied", decided_by=market_ops)


# -- tightening applies at once, weakening waits for a second person ---------------------------


def test_tightening_changes_apply_at_once_and_each_field_is_recorded(btc, market_ops):
    outcome = currency_update(
        actor=market_ops,
        currency_id=btc.pk,
        changes={"dual_approval_threshold": D("0.5"), "min_confirmations": 6, "withdrawal_fee": D("0.0006")},
        reason="tighter after review",
    )

    btc.refresh_from_db()
    assert (btc.dual_approval_threshold, btc.min_confirmations, btc.withdrawal_fee) == (D("0.5"), 6, D("0.0006"))
    assert sorted(outcome.applied) == ["dual_approval_threshold", "min_confirmations", "withdrawal_fee"]
    rows = {
        e.field: (e.actor, e.action, e.before, e.after, e.reason) for e in SettingChange.objects.filter(currency=btc)
    }
    assert rows == {
        "dual_approval_threshold": (market_ops, "change", "1", "0.5", "tighter after review"),
        "min_confirmations": (market_ops, "change", "2", "6", "tighter after review"),
        "withdrawal_fee": (market_ops, "change", "0.0005", "0.0006", "tighter after review"),
    }


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("dual_approval_threshold", D("100"), D("1")),
        ("min_confirmations", 0 + 1, None),
        ("withdrawals_enabled", True, False),
    ],
)
def test_a_weakening_currency_change_waits_for_a_second_person(btc, market_ops, officer, field, value, stored):
    if field == "min_confirmations":
        Currency.objects.filter(pk=btc.pk).update(min_confirmations=6)
        stored = 6
    if field == "withdrawals_enabled":
        Currency.objects.filter(pk=btc.pk).update(withdrawals_enabled=False)

    outcome = currency_update(actor=market_ops, currency_id=btc.pk, changes={field: value}, reason="busy day")

    assert outcome.applied == []
    assert len(outcome.proposals) == 1
    btc.refresh_from_db()
    assert getattr(btc, field) == stored
    proposal = SettingProposal.objects.get()
    assert (proposal.status, proposal.field, proposal.proposed_by) == ("pending", field, market_ops)

    setting_proposal_approve(actor=officer, proposal_id=proposal.pk, comment="checked")

    btc.refresh_from_db()
    assert getattr(btc, field) == value
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("applied", officer)
    actions = list(SettingChange.objects.filter(currency=btc).order_by("id").values_list("action", "actor"))
    assert actions == [("propose", market_ops.pk), ("approve", officer.pk)]


def test_a_lowered_fee_waits_for_a_second_person_while_a_raised_one_applies(market, market_ops, officer):
    outcome = market_update(
        actor=market_ops, market_id=market.pk, changes={"maker_fee": D("0"), "taker_fee": D("0.003")}
    )

    market.refresh_from_db()
    assert (market.maker_fee, market.taker_fee) == (D("0.001"), D("0.003"))
    assert outcome.applied == ["taker_fee"]
    assert [p.field for p in outcome.proposals] == ["maker_fee"]
    setting_proposal_approve(actor=officer, proposal_id=outcome.proposals[0].pk)
    market.refresh_from_db()
    assert market.maker_fee == D("0")


def test_nobody_approves_their_own_proposal(btc, market_ops):
    proposal = currency_update(
        actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("1000")}
    ).proposals[0]

    with pytest.raises(DomainError) as exc:
        setting_proposal_approve(actor=market_ops, proposal_id=proposal.pk)

    assert _code(exc) == "self_approval"
    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("1")
    assert SettingProposal.objects.get().status == "pending"


def test_a_decided_proposal_cannot_be_decided_again(btc, market_ops, officer, officer2):
    proposal = currency_update(
        actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("2")}
    ).proposals[0]
    setting_proposal_approve(actor=officer, proposal_id=proposal.pk)

    for call in (
        lambda: setting_proposal_approve(actor=officer2, proposal_id=proposal.pk),
        lambda: setting_proposal_reject(actor=officer2, proposal_id=proposal.pk, reason="late"),
    ):
        with pytest.raises(DomainError) as exc:
            call()
        assert _code(exc) == "already_decided"


def test_a_rejected_proposal_changes_nothing_and_is_recorded(btc, market_ops, officer):
    proposal = currency_update(
        actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("50")}
    ).proposals[0]

    with pytest.raises(DomainError):
        setting_proposal_reject(actor=officer, proposal_id=proposal.pk, reason="  ")
    setting_proposal_reject(actor=officer, proposal_id=proposal.pk, reason="too high")

    btc.refresh_from_db()
    assert btc.dual_approval_threshold == D("1")
    assert SettingChange.objects.filter(action="reject", actor=officer, reason="too high").count() == 1


def test_a_second_weakening_proposal_of_the_same_setting_waits_for_the_first(btc, market_ops):
    currency_update(actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("2")})

    with pytest.raises(DomainError) as exc:
        currency_update(actor=market_ops, currency_id=btc.pk, changes={"dual_approval_threshold": D("3")})

    assert _code(exc) == "proposal_pending"
    assert SettingProposal.objects.count() == 1


def test_a_proposal_still_valid_is_checked_again_when_approved(market, market_ops, officer, settings):
    proposal = market_update(actor=market_ops, market_id=market.pk, changes={"maker_fee": D("0.0005")}).proposals[0]
    settings.MAX_TRADING_FEE = D("0.0001")

    with pytest.raises(DomainError) as exc:
        setting_proposal_approve(actor=officer, proposal_id=proposal.pk)

    assert _code(exc) == "validation_error"
    market.refresh_from_db()
    assert market.maker_fee == D("0.001")


def test_an_unchanged_value_records_nothing(btc, market_ops):
    outcome = currency_update(actor=market_ops, currency_id=btc.pk, changes={"withdrawal_fee": "0.00050"})
    assert outcome.applied == []
    assert not SettingChange.objects.exists()
