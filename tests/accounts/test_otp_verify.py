from __future__ import annotations

import pytest
from django.db import transaction

from accounts.selectors import two_factor_enabled
from accounts.services import otp_verify, two_factor_setup

from .helpers import allow_next_attempt, totp_code, totp_device

pytestmark = pytest.mark.django_db


def test_two_factor_enabled_only_after_confirmation(user, enable_2fa):
    assert two_factor_enabled(user=user) is False
    two_factor_setup(user=user)
    assert two_factor_enabled(user=user) is False

    enable_2fa(user)

    assert two_factor_enabled(user=user) is True


def test_otp_verify_is_false_while_2fa_is_off_even_with_a_pending_devices_code(user):
    two_factor_setup(user=user)

    assert otp_verify(user=user, otp=totp_code(totp_device(user))) is False


def test_otp_verify_accepts_the_current_code_once(user_2fa):
    code = totp_code(totp_device(user_2fa))

    assert otp_verify(user=user_2fa, otp=code) is True
    assert otp_verify(user=user_2fa, otp=code) is False


def test_otp_verify_accepts_a_backup_code_once_and_keeps_the_others(user_2fa):
    code = user_2fa.backup_codes[0]

    assert otp_verify(user=user_2fa, otp=code) is True
    allow_next_attempt(user_2fa.staticdevice_set.get())
    assert otp_verify(user=user_2fa, otp=code) is False
    assert user_2fa.staticdevice_set.get().token_set.count() == 9


def test_otp_verify_accepts_a_backup_code_written_with_dashes_and_spaces(user_2fa):
    code = user_2fa.backup_codes[1]

    assert otp_verify(user=user_2fa, otp=f" {code[:4]}-{code[4:].upper()} ") is True


def test_otp_verify_does_not_accept_another_users_codes(user_2fa, enable_2fa):
    from tests.factories import UserFactory

    other = UserFactory()
    enable_2fa(other)

    assert otp_verify(user=other, otp=user_2fa.backup_codes[0]) is False
    assert otp_verify(user=user_2fa, otp=user_2fa.backup_codes[0]) is True


@pytest.mark.parametrize("otp", ["", " ", "x" * 10_000, "１２３４５６", "12_3456", "-123456", "\u0000" * 8, "ünïcødé"])
def test_otp_verify_refuses_odd_input_without_error(user_2fa, otp):
    assert otp_verify(user=user_2fa, otp=otp) is False


def test_otp_verify_must_run_outside_the_callers_transaction(user_2fa):
    # A refused request would roll back the failure record and defeat the throttling.
    with pytest.raises(RuntimeError), transaction.atomic():
        otp_verify(user=user_2fa, otp="123456")
