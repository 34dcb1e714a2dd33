"""Findings 4, 5 and 7: the login limits hold against spoofed headers, cover the admin, fail closed.

- 4: per-IP limits key on the address the trusted proxies saw (``NUM_PROXIES``), never on
  an ``X-Forwarded-For`` the client wrote itself.
- 5: the admin login has the same per-IP and per-account limits (the same buckets as the
  API's) and one answer for every failed password/OTP combination.
- 7: while the cache holding the limits is down, logins answer 503
  ``service_unavailable`` with Retry-After; trading still fails open.
"""

from __future__ import annotations

import re
import socket

import pytest

from accounts.admin_site import STAFF_LOGIN_ERROR
from accounts.roles import BACK_OFFICE
from tests.backoffice.helpers import PASSWORD, fresh_otp, make_staff
from tests.factories import fund

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture
def tight(settings):
    settings.EXCHANGE_THROTTLE_RATES = {"auth_ip": "5/m", "auth_account": "3/m", "trading": "1000/m"}


@pytest.fixture
def proxies(settings):
    def _set(n: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": n}

    return _set


@pytest.fixture
def officer(db):
    return make_staff(BACK_OFFICE)


@pytest.fixture
def cache_down(settings):
    """Point the cache at a port where nothing listens (as when Redis is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "exchange_site.cache.SharedRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def login(api, n: int, **meta: str):
    return api.post(TOKEN_URL, {"email": f"nobody{n}@example.com", "password": "x"}, format="json", **meta)


def admin_post(client, email: str, password: str, otp: str = "", **meta: str):
    return client.post("/admin/login/", {"username": email, "password": password, "otp_token": otp}, **meta)


# -- Finding 4: X-Forwarded-For ------------------------------------------------------------


def test_num_proxies_defaults_to_zero_from_the_environment():
    from django.conf import settings

    assert settings.NUM_PROXIES == 0
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


def test_without_trusted_proxies_a_spoofed_forwarded_for_gets_no_fresh_bucket(api, tight):
    for i in range(5):
        assert login(api, i, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code == 401

    resp = login(api, 99, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "throttled"


def test_behind_one_proxy_the_last_hop_is_the_client(api, tight, proxies):
    proxies(1)
    # The client may prepend anything; the proxy appends the address it saw.
    for i in range(5):
        resp = login(api, i, HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 203.0.113.7", REMOTE_ADDR="10.0.0.1")
        assert resp.status_code == 401
    assert login(api, 5, HTTP_X_FORWARDED_FOR="10.9.9.99, 203.0.113.7", REMOTE_ADDR="10.0.0.1").status_code == 429
    # Another client behind the same proxy has a budget of its own.
    assert login(api, 6, HTTP_X_FORWARDED_FOR="203.0.113.8", REMOTE_ADDR="10.0.0.1").status_code == 401


# -- Finding 5: the admin login ----------------------------------------------------------------


def test_the_admin_login_is_limited_per_ip(client, officer, tight):
    for i in range(5):
        assert admin_post(client, f"guess{i}@example.com", "wrong").status_code == 200

    resp = admin_post(client, officer.email, PASSWORD, fresh_otp(officer))

    assert resp.status_code == 429
    assert int(resp["Retry-After"]) > 0
    assert client.get("/admin/").status_code == 302


def test_the_admin_login_is_limited_per_account_whatever_the_ip(client, officer, tight):
    for i in range(3):
        assert admin_post(client, officer.email, f"wrong{i}", REMOTE_ADDR=f"10.1.0.{i}").status_code == 200

    resp = admin_post(client, officer.email, PASSWORD, fresh_otp(officer), REMOTE_ADDR="10.1.0.99")

    assert resp.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_api_and_admin_logins_share_the_per_account_budget(api, client, officer, tight):
    for i in range(3):
        api.post(TOKEN_URL, {"email": officer.email, "password": "wrong"}, format="json", REMOTE_ADDR=f"10.2.0.{i}")

    assert admin_post(client, officer.email, "wrong", REMOTE_ADDR="10.2.0.99").status_code == 429


def _page(resp) -> str:
    """The page without what differs by construction: the CSRF token and the code the client typed."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", resp.content.decode())
    return re.sub(r'name="otp_token" value="[^"]*"', 'name="otp_token"', page)


def test_every_failed_admin_login_gets_the_same_answer(client, officer):
    good = fresh_otp(officer)
    wrong_code = f"{(int(good) + 1) % 1_000_000:06d}"
    answers = {
        "wrong password": admin_post(client, officer.email, "wrong-password-1"),
        "wrong password, right code": admin_post(client, officer.email, "wrong-password-1", fresh_otp(officer)),
        "right password, no code": admin_post(client, officer.email, PASSWORD),
        "right password, wrong code": admin_post(client, officer.email, PASSWORD, wrong_code),
    }

    pages = {name: _page(resp) for name, resp in answers.items()}
    assert {resp.status_code for resp in answers.values()} == {200}
    assert STAFF_LOGIN_ERROR in pages["wrong password"]
    assert len(set(pages.values())) == 1, [name for name in pages if pages[name] != pages["wrong password"]]
    assert all(PASSWORD not in page for page in pages.values())
    assert client.get("/admin/").status_code == 302


def test_the_right_password_and_code_still_log_in(client, officer, tight):
    resp = admin_post(client, officer.email, PASSWORD, fresh_otp(officer))

    assert resp.status_code == 302
    assert client.get("/admin/").status_code == 200


# -- Finding 7: Redis down ------------------------------------------------------------------------


def test_api_logins_fail_closed_while_the_cache_is_down(api, cache_down):
    for url, body in (
        (TOKEN_URL, {"email": "a@example.com", "password": "x"}),
        ("/api/v1/auth/register", {"email": "b@example.com", "password": "long-enough-pass-42"}),
    ):
        resp = api.post(url, body, format="json")

        assert resp.status_code == 503, resp.content
        assert resp.json()["error"]["code"] == "service_unavailable"
        assert int(resp["Retry-After"]) > 0


def test_the_admin_login_fails_closed_while_the_cache_is_down(client, officer, cache_down):
    resp = admin_post(client, officer.email, PASSWORD, fresh_otp(officer))

    assert resp.status_code == 503
    assert int(resp["Retry-After"]) > 0
    assert client.get("/admin/").status_code == 302


def test_trading_still_fails_open_while_the_cache_is_down(market, make_trader, auth_client, cache_down):
    user = make_trader()
    fund(user, market.quote, "1000")

    resp = auth_client(user).post(
        "/api/v1/orders",
        {"market": market.symbol, "side": "buy", "type": "limit", "price": "100", "quantity": "1"},
        format="json",
    )

    assert resp.status_code == 201, resp.content
