"""The withdrawal-control endpoints: shapes, hostile input, and who may see or change what."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.assertions import assert_error
from tests.backoffice.helpers import make_trader
from tests.factories import PASSWORD, CurrencyFactory
from tests.otp import fresh_otp
from wallets.models import WithdrawalAddress, WithdrawalWhitelist

from .controls import ADDRESS, add_address, btc_currency, limit, price, whitelist, withdraw

pytestmark = pytest.mark.django_db

ADDRESSES = "/api/v1/withdrawal-addresses"
SETTINGS = "/api/v1/withdrawal-addresses/settings"
LIMITS = "/api/v1/withdrawal-limits"


@pytest.fixture
def btc(db):
    return btc_currency()


@pytest.fixture
def trader(btc):
    return make_trader(btc, "10")


def _add_body(user, **overrides):
    body = {"currency": "BTC", "address": ADDRESS, "label": "cold", "password": PASSWORD, "otp": fresh_otp(user)}
    body.update(overrides)
    return body


def test_add_list_and_remove_an_address(trader, btc, auth_client):
    client = auth_client(trader)

    response = client.post(ADDRESSES, _add_body(trader), format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == {"id", "currency", "address", "label", "usable_from", "created_at"}
    assert (created["currency"], created["address"], created["label"]) == ("BTC", ADDRESS, "cold")
    assert created["usable_from"] > created["created_at"]
    assert client.get(ADDRESSES).json() == [created]

    assert client.delete(f"{ADDRESSES}/{created['id']}").status_code == 204
    assert client.get(ADDRESSES).json() == []


def test_the_list_shows_only_my_addresses(trader, btc, auth_client):
    add_address(make_trader(btc, "0"), btc)

    assert auth_client(trader).get(ADDRESSES).json() == []


def test_switching_the_whitelist_on_and_off(trader, auth_client):
    client = auth_client(trader)
    assert client.get(SETTINGS).json() == {"whitelist_enabled": False, "effective_from": None, "in_force": False}

    on = client.put(
        SETTINGS, {"whitelist_enabled": True, "password": PASSWORD, "otp": fresh_otp(trader)}, format="json"
    )
    assert on.status_code == 200, on.content
    assert on.json()["whitelist_enabled"] is True
    assert on.json()["in_force"] is True

    off = client.put(
        SETTINGS, {"whitelist_enabled": False, "password": PASSWORD, "otp": fresh_otp(trader)}, format="json"
    )
    assert off.status_code == 200, off.content
    assert off.json()["whitelist_enabled"] is False
    assert off.json()["in_force"] is True, "switching off waits the cool-down"
    assert off.json()["effective_from"] > timezone.now().isoformat()[:19]


def test_withdrawal_refusals_by_the_whitelist_answer_in_the_error_format(trader, btc, auth_client):
    add_address(trader, btc, cooled=False)
    whitelist(trader)
    client = auth_client(trader)

    def request(address):
        body = {"currency": "BTC", "amount": "0.1", "address": address, "otp": fresh_otp(trader)}
        return client.post("/api/v1/withdrawals", body, format="json")

    assert_error(request("bc1qsomeotheraddress9"), 400, "address_not_whitelisted")
    error = assert_error(request(ADDRESS), 400, "address_cooling_down")
    assert error["details"]["usable_from"].endswith("Z")


def test_the_limits_show_the_tier_and_each_cap(trader, btc, auth_client):
    usdt = CurrencyFactory(code="USDT", name="Tether USD", precision=6)
    eth = CurrencyFactory(code="ETH", name="Ether")
    price(btc, usdt, "20000")
    limit(0, usdt, "10000")
    limit(0, eth, "5")
    limit(1, eth, "50")
    withdraw(trader, btc, "0.1")

    body = auth_client(trader).get(LIMITS).json()

    assert body == {
        "tier": 0,
        "reference_currency": "USDT",
        "results": [
            {"currency": "ETH", "limit_24h": "5", "used_24h": "0", "remaining": "5", "covers": ["ETH"]},
            {
                "currency": "USDT",
                "limit_24h": "10000",
                "used_24h": "2000",
                "remaining": "8000",
                "covers": ["BTC", "USDT"],
            },
        ],
    }


def test_the_limits_of_a_tier_without_any_are_empty(trader, auth_client):
    assert auth_client(trader).get(LIMITS).json() == {"tier": 0, "reference_currency": "USDT", "results": []}


# -- access control ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", ADDRESSES),
        ("post", ADDRESSES),
        ("delete", f"{ADDRESSES}/1"),
        ("get", SETTINGS),
        ("put", SETTINGS),
        ("get", LIMITS),
    ],
)
def test_every_endpoint_needs_a_login(api, method, url):
    assert_error(getattr(api, method)(url, {}, format="json"), 401, "not_authenticated")


def test_another_users_address_cannot_be_removed_and_looks_absent(trader, btc, auth_client):
    theirs = add_address(make_trader(btc, "0"), btc)

    assert_error(auth_client(trader).delete(f"{ADDRESSES}/{theirs.pk}"), 404, "not_found")
    assert WithdrawalAddress.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("pk", ["0", "9223372036854775808", "99999999999999999999999"])
def test_impossible_ids_are_not_found(trader, auth_client, pk):
    response = auth_client(trader).delete(f"{ADDRESSES}/{pk}")

    assert response.status_code == 404


def test_a_wrong_password_is_refused_and_nothing_changes(trader, auth_client):
    client = auth_client(trader)

    assert_error(client.post(ADDRESSES, _add_body(trader, password="wrong"), format="json"), 401, "invalid_password")
    assert_error(
        client.put(SETTINGS, {"whitelist_enabled": True, "password": "x", "otp": fresh_otp(trader)}, format="json"),
        401,
        "invalid_password",
    )
    assert not WithdrawalAddress.objects.exists()
    assert not WithdrawalWhitelist.objects.exists()


def test_a_missing_or_wrong_one_time_password_is_refused(trader, auth_client):
    client = auth_client(trader)
    wrong = f"{(int(fresh_otp(trader)) + 1) % 1_000_000:06d}"

    assert_error(client.post(ADDRESSES, _add_body(trader, otp=""), format="json"), 401, "otp_required")
    assert_error(client.post(ADDRESSES, _add_body(trader, otp=wrong), format="json"), 401, "invalid_otp")
    assert_error(
        client.put(SETTINGS, {"whitelist_enabled": True, "password": PASSWORD}, format="json"), 401, "otp_required"
    )
    assert not WithdrawalAddress.objects.exists()


def test_a_duplicate_address_is_a_conflict(trader, auth_client):
    client = auth_client(trader)
    assert client.post(ADDRESSES, _add_body(trader), format="json").status_code == 201

    assert_error(client.post(ADDRESSES, _add_body(trader), format="json"), 409, "address_already_whitelisted")


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"currency": "NOPE"},
        {"currency": 5},
        {"currency": "B" * 500},
        {"address": "short"},
        {"address": "bc1q address with spaces"},
        {"address": "bc1q<script>alert(1)</script>"},
        {"address": "bc1qéxampleaddress0001"},
        {"address": "a" * 129},
        {"address": 12345678901},
        {"address": None},
        {"address": ["bc1qexampleaddress0001"]},
        {"label": "x" * 65},
        {"label": "line\nbreak"},
        {"label": "bell\x07"},
        {"label": 7},
        {"password": 12345},
        {"password": "p" * 10_000},
        {"otp": 123456},
        {"otp": "1" * 500},
    ],
)
def test_bad_address_input_is_a_validation_error_and_writes_nothing(trader, auth_client, overrides):
    response = auth_client(trader).post(ADDRESSES, _add_body(trader, **overrides), format="json")

    assert_error(response, 400, "validation_error")
    assert not WithdrawalAddress.objects.exists()


@pytest.mark.parametrize("field", ["currency", "address", "password"])
def test_a_missing_field_is_a_validation_error(trader, auth_client, field):
    body = _add_body(trader)
    del body[field]

    assert_error(auth_client(trader).post(ADDRESSES, body, format="json"), 400, "validation_error")


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, "", [True], {"on": True}])
def test_the_switch_takes_only_json_booleans(trader, auth_client, value):
    body = {"whitelist_enabled": value, "password": PASSWORD, "otp": fresh_otp(trader)}

    assert_error(auth_client(trader).put(SETTINGS, body, format="json"), 400, "validation_error")
    assert not WithdrawalWhitelist.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(trader, auth_client):
    client = auth_client(trader)

    for url, method in ((ADDRESSES, client.post), (SETTINGS, client.put)):
        response = method(url, data="[1, 2]", content_type="application/json")
        assert response.status_code == 400, response.content
        response = method(url, data="{not json", content_type="application/json")
        assert response.status_code == 400, response.content


def test_adding_is_rate_limited_like_a_login(trader, auth_client, settings):
    settings.EXCHANGE_THROTTLE_RATES = {**settings.EXCHANGE_THROTTLE_RATES, "auth_ip": "2/m"}
    client = auth_client(trader)
    for _ in range(2):
        client.post(ADDRESSES, _add_body(trader, password="wrong"), format="json")

    assert_error(client.post(ADDRESSES, _add_body(trader), format="json"), 429, "throttled")
    assert client.get(ADDRESSES).status_code == 200, "reading is not limited"


def test_the_openapi_schema_describes_the_endpoints_and_the_new_refusals(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    assert set(paths[ADDRESSES]) == {"get", "post"}
    assert set(paths["/api/v1/withdrawal-addresses/{id}"]) == {"delete"}
    assert set(paths[SETTINGS]) == {"get", "put"}
    assert set(paths[LIMITS]) == {"get"}
    refusals = paths["/api/v1/withdrawals"]["post"]["responses"]["400"]["description"]
    for code in ("address_not_whitelisted", "address_cooling_down", "withdrawal_limit_exceeded"):
        assert code in refusals
    limits = schema["components"]["schemas"]["LimitOut"]["properties"]
    assert {"currency", "limit_24h", "used_24h", "remaining"} <= set(limits)
