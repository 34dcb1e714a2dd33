"""The withdrawal address whitelist: cool-down on new addresses and on switching off, immediate removal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import InvalidOtp, InvalidPassword, OtpRequired
from exchange_site import events
from exchange_site.errors import NotFound
from exchange_site.events import NoticeDue, NoticeKind
from tests.backoffice.helpers import balance, make_trader
from tests.factories import PASSWORD, CurrencyFactory
from tests.otp import fresh_otp
from wallets import whitelist as services
from wallets.models import Withdrawal, WithdrawalAddress
from wallets.withdrawal_controls import AddressCoolingDown, AddressNotWhitelisted

from .controls import (
    ADDRESS,
    OTHER_ADDRESS,
    add_address,
    btc_currency,
    cool_down_passed,
    switch_off_passed,
    whitelist,
    withdraw,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def btc(db):
    return btc_currency()


@pytest.fixture
def trader(btc):
    return make_trader(btc, "10")


def test_a_new_address_is_usable_only_after_the_cooldown(trader, btc, settings):
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_HOURS = 6
    before = timezone.now()

    entry = add_address(trader, btc, cooled=False)

    assert entry.usable_from - entry.created_at == timedelta(hours=6)
    assert entry.created_at >= before
    assert (entry.label, entry.address, entry.currency_id) == ("cold wallet", ADDRESS, btc.pk)


def test_the_default_cooldown_is_24_hours(trader, btc):
    entry = add_address(trader, btc, cooled=False)

    assert entry.usable_from - entry.created_at == timedelta(hours=24)


def test_with_the_whitelist_off_any_address_may_be_used(trader, btc):
    assert withdraw(trader, btc, "0.1", "bc1qanyotheraddress77").status == "pending_review"


def test_with_the_whitelist_on_an_unlisted_address_is_refused_and_nothing_is_locked(trader, btc):
    add_address(trader, btc)
    whitelist(trader)

    with pytest.raises(AddressNotWhitelisted) as exc:
        withdraw(trader, btc, "0.1", OTHER_ADDRESS)

    assert exc.value.details == {"currency": "BTC", "address": OTHER_ADDRESS}
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
    assert not Withdrawal.objects.exists()


def test_an_address_whitelisted_for_another_currency_is_not_whitelisted_for_this_one(trader, btc):
    eth = CurrencyFactory(code="ETH", name="Ether")
    add_address(trader, eth)
    whitelist(trader)

    with pytest.raises(AddressNotWhitelisted):
        withdraw(trader, btc, "0.1")


def test_a_cooling_address_is_refused_with_the_time_it_becomes_usable(trader, btc):
    entry = add_address(trader, btc, cooled=False)
    whitelist(trader)

    with pytest.raises(AddressCoolingDown) as exc:
        withdraw(trader, btc, "0.1")

    assert exc.value.details["usable_from"].startswith(entry.usable_from.strftime("%Y-%m-%dT%H:%M:%S"))
    assert not Withdrawal.objects.exists()


def test_a_cooled_down_address_is_accepted(trader, btc):
    entry = add_address(trader, btc, cooled=False)
    whitelist(trader)
    cool_down_passed(entry)

    assert withdraw(trader, btc, "0.1").address == ADDRESS


def test_a_cooldown_of_zero_hours_makes_a_new_address_usable_at_once(trader, btc, settings):
    settings.WITHDRAWAL_ADDRESS_COOLDOWN_HOURS = 0
    add_address(trader, btc, cooled=False)
    whitelist(trader)

    assert withdraw(trader, btc, "0.1").status == "pending_review"


def test_switching_on_is_immediate(trader, btc):
    state = whitelist(trader)

    assert state.whitelist_enabled
    assert state.in_force
    assert state.effective_from <= timezone.now()
    with pytest.raises(AddressNotWhitelisted):
        withdraw(trader, btc, "0.1")


def test_switching_off_waits_the_cooldown(trader, btc):
    whitelist(trader)

    state = whitelist(trader, enabled=False)

    assert not state.whitelist_enabled
    assert state.in_force, "still enforced during the cool-down"
    assert state.effective_from - timezone.now() > timedelta(hours=23)
    with pytest.raises(AddressNotWhitelisted):
        withdraw(trader, btc, "0.1")

    switch_off_passed(trader)
    assert withdraw(trader, btc, "0.1").status == "pending_review"


def test_asking_to_switch_off_again_does_not_extend_the_wait(trader, btc):
    whitelist(trader)
    first = whitelist(trader, enabled=False)

    again = whitelist(trader, enabled=False)

    assert again.effective_from == first.effective_from


def test_switching_back_on_during_the_wait_cancels_the_switch_off(trader):
    whitelist(trader)
    whitelist(trader, enabled=False)

    state = whitelist(trader, enabled=True)

    assert state.whitelist_enabled
    assert state.in_force
    switch_off_passed(trader)  # the old pending date would have passed: still on
    assert services.withdrawal_whitelist_state(user=trader).in_force


def test_switching_off_a_whitelist_never_switched_on_changes_nothing(trader, btc):
    state = whitelist(trader, enabled=False)

    assert (state.whitelist_enabled, state.effective_from, state.in_force) == (False, None, False)
    assert withdraw(trader, btc, "0.1").status == "pending_review"


def test_removing_an_address_is_immediate(trader, btc):
    entry = add_address(trader, btc)
    whitelist(trader)
    assert withdraw(trader, btc, "0.1").status == "pending_review"

    services.withdrawal_address_remove(user=trader, address_id=entry.pk)

    assert not WithdrawalAddress.objects.exists()
    with pytest.raises(AddressNotWhitelisted):
        withdraw(trader, btc, "0.1")


def test_another_users_address_cannot_be_removed(trader, btc):
    entry = add_address(make_trader(btc, "0"), btc)

    with pytest.raises(NotFound):
        services.withdrawal_address_remove(user=trader, address_id=entry.pk)
    assert WithdrawalAddress.objects.filter(pk=entry.pk).exists()


def test_adding_needs_the_password(trader, btc):
    with pytest.raises(InvalidPassword):
        services.withdrawal_address_add(
            user=trader, currency=btc, address=ADDRESS, label="", password="wrong", otp=fresh_otp(trader)
        )
    assert not WithdrawalAddress.objects.exists()


def test_adding_needs_the_one_time_password_when_2fa_is_on(trader, btc):
    with pytest.raises(OtpRequired):
        services.withdrawal_address_add(user=trader, currency=btc, address=ADDRESS, label="", password=PASSWORD, otp="")
    wrong = f"{(int(fresh_otp(trader)) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidOtp):
        services.withdrawal_address_add(
            user=trader, currency=btc, address=ADDRESS, label="", password=PASSWORD, otp=wrong
        )
    assert not WithdrawalAddress.objects.exists()


def test_without_2fa_the_password_alone_adds_an_address(btc):
    user = make_trader(btc, "0", two_factor=False)

    services.withdrawal_address_add(user=user, currency=btc, address=ADDRESS, label="", password=PASSWORD, otp=None)

    assert WithdrawalAddress.objects.filter(user=user).count() == 1


def test_changing_the_switch_needs_the_password_and_the_one_time_password(trader):
    with pytest.raises(InvalidPassword):
        services.withdrawal_whitelist_set(user=trader, enabled=True, password="nope", otp=fresh_otp(trader))
    with pytest.raises(OtpRequired):
        services.withdrawal_whitelist_set(user=trader, enabled=True, password=PASSWORD, otp=None)
    assert not services.withdrawal_whitelist_state(user=trader).in_force


def test_adding_announces_the_notice_only_after_commit(trader, btc, django_capture_on_commit_callbacks):
    heard: list[NoticeDue] = []
    events.subscribe(NoticeDue, heard.append)
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            entry = add_address(trader, btc, cooled=False)
            assert heard == [], "announced before commit"
        for callback in callbacks:
            callback()
    finally:
        events.unsubscribe(NoticeDue, heard.append)

    assert len(heard) == 1
    notice = heard[0]
    assert (notice.user_id, notice.kind) == (trader.pk, NoticeKind.WHITELIST_ADDRESS_ADDED)
    assert notice.details["currency"] == "BTC"
    assert notice.details["address"] == ADDRESS
    assert notice.details["label"] == "cold wallet"
    assert notice.details["usable_from"].startswith(entry.usable_from.strftime("%Y-%m-%dT%H:%M"))


def test_a_refused_addition_announces_nothing(trader, btc, django_capture_on_commit_callbacks):
    add_address(trader, btc)
    heard: list[NoticeDue] = []
    events.subscribe(NoticeDue, heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.AddressAlreadyWhitelisted):
            add_address(trader, btc)
    finally:
        events.unsubscribe(NoticeDue, heard.append)
    assert heard == []


def test_the_same_address_twice_is_refused_but_other_currencies_and_users_may_share_it(trader, btc):
    add_address(trader, btc)
    with pytest.raises(services.AddressAlreadyWhitelisted):
        add_address(trader, btc)

    add_address(trader, CurrencyFactory(code="ETH", name="Ether"))
    add_address(make_trader(btc, "0"), btc)
    assert WithdrawalAddress.objects.filter(address=ADDRESS).count() == 3


def test_the_whitelist_size_is_bounded(trader, btc, monkeypatch):
    monkeypatch.setattr(services, "MAX_ADDRESSES", 2)
    add_address(trader, btc, "bc1qexampleaddress0001")
    add_address(trader, btc, "bc1qexampleaddress0002")

    with pytest.raises(services.TooManyAddresses):
        add_address(trader, btc, "bc1qexampleaddress0003")
    assert WithdrawalAddress.objects.filter(user=trader).count() == 2


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", ""])
def test_the_cooldown_setting_must_be_a_whole_number_of_hours(raw):
    from django.core.exceptions import ImproperlyConfigured

    from exchange_site.settings import _cooldown_hours

    with pytest.raises(ImproperlyConfigured):
        _cooldown_hours(raw)
    assert _cooldown_hours(" 0 ") == 0
    assert _cooldown_hours("48") == 48
