"""The admin requires an OTP-verified staff login unless ADMIN_REQUIRE_OTP is off."""

from __future__ import annotations

import pytest

from accounts.roles import BACK_OFFICE

from .helpers import PASSWORD, admin_login, fresh_otp, make_staff

pytestmark = pytest.mark.django_db


def test_password_and_otp_log_a_staff_member_in(client, officer):
    response = admin_login(client, officer)

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_password_alone_is_not_enough(client, officer):
    response = client.post("/admin/login/", {"username": officer.email, "password": PASSWORD})

    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_a_wrong_code_is_refused(client, officer):
    good = fresh_otp(officer)

    admin_login(client, officer, otp=f"{(int(good) + 1) % 1_000_000:06d}")

    assert client.get("/admin/").status_code == 302


def test_a_backup_code_also_logs_in(client):
    from django_otp.plugins.otp_static.models import StaticToken

    user = make_staff(BACK_OFFICE)
    code = StaticToken.objects.filter(device__user=user).first().token

    admin_login(client, user, otp=code)

    assert client.get("/admin/").status_code == 200
    assert not StaticToken.objects.filter(device__user=user, token=code).exists()


def test_a_session_without_otp_verification_is_sent_to_the_login(client, officer):
    client.force_login(officer)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_2fa_cannot_enter_the_admin(client):
    user = make_staff(BACK_OFFICE, two_factor=False)

    client.post("/admin/login/", {"username": user.email, "password": PASSWORD, "otp_token": "123456"})

    assert client.get("/admin/").status_code == 302


def test_admin_require_otp_off_accepts_a_password_login(client, officer, settings):
    settings.ADMIN_REQUIRE_OTP = False

    client.post("/admin/login/", {"username": officer.email, "password": PASSWORD})

    assert client.get("/admin/").status_code == 200


def test_traders_never_enter_the_admin(client, trader):
    admin_login(client, trader)

    assert client.get("/admin/").status_code == 302


def test_the_deploy_check_warns_when_admin_otp_is_off(settings):
    from exchange_site.admin_apps import admin_otp_check

    assert admin_otp_check() == []
    settings.ADMIN_REQUIRE_OTP = False
    assert [m.id for m in admin_otp_check()] == ["exchange.W001"]
