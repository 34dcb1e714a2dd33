from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.selectors import fee_account
from tests.assertions import assert_error
from tests.factories import PASSWORD, UserFactory

from .helpers import allow_next_attempt, totp_code, totp_device

pytestmark = pytest.mark.django_db


def test_login_answers_an_access_and_a_refresh_token_that_work(api, user, login):
    response = login(api, user.email)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api.get("/api/v1/me").json()["email"] == user.email


def test_login_matches_the_email_in_any_case(api, user, login):
    assert login(api, f"  {user.email.upper()} ").status_code == 200


def test_login_records_the_last_login_time(api, user, login):
    before = timezone.now()

    login(api, user.email)

    user.refresh_from_db()
    assert user.last_login is not None
    assert user.last_login >= before


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: ("nobody@example.com", PASSWORD), id="unknown email"),
        pytest.param(lambda: (UserFactory().email, PASSWORD + "x"), id="wrong password"),
        pytest.param(lambda: (UserFactory(is_active=False).email, PASSWORD), id="inactive user"),
    ],
)
def test_login_refuses_bad_credentials_with_one_message(api, login, make):
    email, password = make()

    error = assert_error(login(api, email, password), 401, "not_authenticated")

    assert error["message"] == "Invalid email or password."


def test_login_refuses_the_system_fee_account_even_with_its_password(api, login):
    account = fee_account()
    account.set_password(PASSWORD)
    account.is_active = True  # even if someone activated it by mistake
    account.save()

    error = assert_error(login(api, account.email), 401, "not_authenticated")

    assert error["message"] == "Invalid email or password."


def test_login_without_2fa_ignores_an_otp(api, user, login):
    assert login(api, user.email, otp="123456").status_code == 200


def test_login_with_a_started_but_unconfirmed_2fa_setup_needs_no_otp(auth_client, user, login, api):
    assert auth_client(user).post("/api/v1/auth/2fa/setup", {"password": PASSWORD}, format="json").status_code == 200

    assert login(api, user.email).status_code == 200


@pytest.mark.parametrize(
    "extra", [{}, {"otp": ""}, {"otp": "   "}, {"otp": None}], ids=["absent", "empty", "blank", "null"]
)
def test_login_with_2fa_on_and_no_otp_answers_otp_required(api, user_2fa, login, extra):
    assert_error(login(api, user_2fa.email, **extra), 401, "otp_required")


def test_login_with_2fa_checks_the_password_before_asking_for_the_otp(api, user_2fa, login):
    # Otherwise anyone could learn which accounts have 2FA on.
    assert_error(login(api, user_2fa.email, PASSWORD + "x"), 401, "not_authenticated")


def test_login_with_2fa_refuses_a_wrong_otp(api, user_2fa, login):
    wrong = f"{(int(totp_code(totp_device(user_2fa))) + 1) % 1_000_000:06d}"

    assert_error(login(api, user_2fa.email, otp=wrong), 401, "invalid_otp")


def test_login_with_2fa_accepts_the_authenticator_code(api, user_2fa, login):
    code = totp_code(totp_device(user_2fa))

    response = login(api, user_2fa.email, otp=code)

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_login_accepts_the_code_typed_with_a_space_as_apps_show_it(api, user_2fa, login):
    code = totp_code(totp_device(user_2fa))

    assert login(api, user_2fa.email, otp=f"{code[:3]} {code[3:]}").status_code == 200


def test_login_refuses_an_authenticator_code_used_before(api, user_2fa, login):
    code = totp_code(totp_device(user_2fa))
    assert login(api, user_2fa.email, otp=code).status_code == 200

    assert_error(login(api, user_2fa.email, otp=code), 401, "invalid_otp")


def test_login_accepts_a_backup_code_only_once(api, user_2fa, login):
    code = user_2fa.backup_codes[3]

    assert login(api, user_2fa.email, otp=code).status_code == 200
    allow_next_attempt(user_2fa.staticdevice_set.get())
    assert_error(login(api, user_2fa.email, otp=code), 401, "invalid_otp")
    # The other backup codes still work.
    allow_next_attempt(user_2fa.staticdevice_set.get())
    assert login(api, user_2fa.email, otp=user_2fa.backup_codes[4]).status_code == 200


def test_login_accepts_a_backup_code_typed_in_upper_case(api, user_2fa, login):
    assert login(api, user_2fa.email, otp=user_2fa.backup_codes[0].upper()).status_code == 200


def test_a_failed_otp_is_recorded_and_throttles_the_next_attempt(api, user_2fa, login):
    device = totp_device(user_2fa)
    code = totp_code(device)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    assert_error(login(api, user_2fa.email, otp=wrong), 401, "invalid_otp")

    # The failure survived the refused request (it was committed before the error)...
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # ...so even the right code is refused until the back-off delay has passed.
    assert_error(login(api, user_2fa.email, otp=code), 401, "invalid_otp")
    allow_next_attempt(device)
    assert login(api, user_2fa.email, otp=code).status_code == 200


def test_a_wrong_backup_code_does_not_throttle_the_authenticator(api, user_2fa, login):
    assert_error(login(api, user_2fa.email, otp="zzzzzzzz"), 401, "invalid_otp")

    assert login(api, user_2fa.email, otp=totp_code(totp_device(user_2fa))).status_code == 200
