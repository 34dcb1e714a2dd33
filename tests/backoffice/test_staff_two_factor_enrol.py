"""Staff 2FA enrolment at /admin/two-factor/: password, QR code, first code; then the admin login works."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import BACK_OFFICE
from accounts.selectors import two_factor_enabled
from tests.factories import PASSWORD, UserFactory
from tests.otp import fresh_otp, totp_code

from .helpers import make_staff

pytestmark = pytest.mark.django_db
URL = "/admin/two-factor/"


def _password(client, email: str, password: str = PASSWORD):
    return client.post(URL, {"step": "password", "username": email, "password": password})


def _token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_a_new_staff_member_enrols_with_the_qr_code_and_then_logs_in(client):
    staff = make_staff(BACK_OFFICE, two_factor=False)
    assert client.get(URL).status_code == 200

    page = _password(client, staff.email).content.decode()
    assert 'id="enrol-qr"' in page
    assert "<svg" in page
    assert 'id="enrol-secret"' in page
    device = TOTPDevice.objects.get(user=staff, confirmed=False)

    done = client.post(URL, {"step": "code", "token": _token(page), "otp": totp_code(device)}).content.decode()

    assert 'id="enrol-done"' in done
    assert len(re.findall(r"<li><code>", done)) == 10
    assert two_factor_enabled(user=staff)
    login = client.post(
        "/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD, "otp_token": fresh_otp(staff)}
    )
    assert login.status_code == 302
    assert login["Location"] == "/admin/"


@pytest.mark.parametrize("who", ["wrong password", "unknown email", "trader", "inactive staff"])
def test_anyone_but_a_staff_member_with_the_password_gets_the_same_refusal(client, who):
    staff = make_staff(BACK_OFFICE, two_factor=False)
    email, password = staff.email, PASSWORD
    if who == "wrong password":
        password = "not-the-password"
    elif who == "unknown email":
        email = "nobody@example.com"
    elif who == "trader":
        email = UserFactory().email
    else:
        email = make_staff(BACK_OFFICE, two_factor=False, is_active=False).email
    resp = _password(client, email, password)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Please enter the correct email and password of a staff account." in html
    assert 'id="enrol-qr"' not in html
    assert not TOTPDevice.objects.exists()


def test_a_wrong_code_keeps_2fa_off_and_shows_the_qr_again(client):
    staff = make_staff(BACK_OFFICE, two_factor=False)
    page = _password(client, staff.email).content.decode()
    again = client.post(URL, {"step": "code", "token": _token(page), "otp": "000000"}).content.decode()
    assert "did not match" in again
    assert 'id="enrol-qr"' in again
    assert not two_factor_enabled(user=staff)


@pytest.mark.parametrize("token", ["", "garbage", "x" * 5000])
def test_a_forged_or_missing_token_starts_over(client, token):
    staff = make_staff(BACK_OFFICE, two_factor=False)
    _password(client, staff.email)
    resp = client.post(URL, {"step": "code", "token": token, "otp": "123456"})
    assert "start again" in resp.content.decode()
    assert not two_factor_enabled(user=staff)


def test_a_token_for_another_purpose_or_a_trader_is_refused(client):
    trader = UserFactory()
    forged = signing.dumps({"u": trader.pk, "d": 1}, salt="backoffice.two-factor-enrol")
    resp = client.post(URL, {"step": "code", "token": forged, "otp": "123456"})
    assert "start again" in resp.content.decode()
    other_salt = signing.dumps({"u": make_staff(BACK_OFFICE, two_factor=False).pk})
    assert "start again" in client.post(URL, {"step": "code", "token": other_salt, "otp": "1"}).content.decode()


def test_staff_with_2fa_on_are_told_so_and_nothing_changes(client):
    staff = make_staff(BACK_OFFICE)
    device = TOTPDevice.objects.get(user=staff)
    html = _password(client, staff.email).content.decode()
    assert 'id="enrol-enabled"' in html
    assert list(TOTPDevice.objects.filter(user=staff)) == [device]


def test_the_page_is_under_the_login_limits(client, settings):
    settings.EXCHANGE_THROTTLE_RATES = {**settings.EXCHANGE_THROTTLE_RATES, "auth_account": "2/m"}
    staff = make_staff(BACK_OFFICE, two_factor=False)
    codes = [_password(client, staff.email, "wrong").status_code for _ in range(4)]
    assert codes[:2] == [200, 200]
    assert codes[-1] == 429


def test_posts_need_the_csrf_token(settings):
    from django.test import Client

    staff = make_staff(BACK_OFFICE, two_factor=False)
    resp = Client(enforce_csrf_checks=True).post(
        URL, {"step": "password", "username": staff.email, "password": PASSWORD}
    )
    assert resp.status_code == 403
    assert not TOTPDevice.objects.filter(user=staff).exists()
