"""Signed requests as Binance checks them: each refusal has Binance's code and writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apikeys.models import ApiKey
from apikeys.services import api_key_delete, api_key_update
from markets.models import Order
from tests.factories import UserFactory, fund
from wallets.models import LedgerEntry

from .helpers import assert_binance_error, ed25519_bot, hmac_bot, now_ms

pytestmark = pytest.mark.django_db

LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "30000",
}


@pytest.fixture
def funded(market):
    user = UserFactory()
    fund(user, market.quote, "100000")
    return user


def _nothing_written(user) -> None:
    assert not Order.objects.filter(user=user).exists()
    assert not LedgerEntry.objects.filter(user=user, kind=LedgerEntry.Kind.ORDER_LOCK).exists()


@pytest.mark.parametrize("in_body", [False, True])
def test_hmac_signed_order_is_placed_with_params_in_query_or_body(funded, in_body):
    bot, _ = hmac_bot(funded)
    resp = bot.call("POST", "order", LIMIT_BUY, in_body=in_body)
    assert resp.status_code == 200, resp.json()
    order = Order.objects.get(user=funded)
    assert resp.json()["orderId"] == order.pk
    assert order.price == Decimal("30000")
    assert order.quantity == Decimal("0.01")
    assert resp["X-MBX-ORDER-COUNT-10S"] == "1"
    assert int(resp["X-MBX-USED-WEIGHT-1M"]) >= 1


def test_ed25519_signed_request_reads_the_account(funded):
    bot, _ = ed25519_bot(funded)
    resp = bot.call("GET", "account")
    assert resp.status_code == 200, resp.json()
    assert {"asset": "USDT", "free": "100000", "locked": "0"} in resp.json()["balances"]


def test_ed25519_signature_of_another_key_is_refused(funded):
    bot, _ = ed25519_bot(funded)
    other, _ = ed25519_bot(funded)
    bot.private_key = other.private_key
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY), -1022, 400)
    _nothing_written(funded)


def test_wrong_secret_is_refused_with_1022_and_writes_nothing(funded):
    bot, _ = hmac_bot(funded)
    bot.secret = "x" * 64
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY), -1022, 400)
    _nothing_written(funded)


def test_body_altered_after_signing_is_refused(funded):
    bot, _ = hmac_bot(funded)
    from urllib.parse import urlencode

    params = {**LIMIT_BUY, "timestamp": now_ms()}
    signed = urlencode(params)
    signature = bot.sign(signed.encode())
    altered = urlencode({**params, "quantity": "1"}) + "&signature=" + signature
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY, in_body=True, tamper=altered), -1022, 400)
    _nothing_written(funded)


@pytest.mark.parametrize("offset", [-6000, 2000])
def test_timestamp_outside_the_window_is_refused_with_1021(funded, offset):
    bot, _ = hmac_bot(funded)
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY, timestamp=now_ms() + offset), -1021, 400)
    _nothing_written(funded)


def test_recv_window_widens_the_window_up_to_60000(funded):
    bot, _ = hmac_bot(funded)
    resp = bot.call("GET", "account", {"recvWindow": 20000}, timestamp=now_ms() - 10000)
    assert resp.status_code == 200
    assert_binance_error(bot.call("GET", "account", {"recvWindow": 60001}), -1102, 400)


def test_key_from_an_address_outside_its_allowlist_is_refused(funded):
    bot, _ = hmac_bot(funded, ip_allowlist=["10.0.0.0/8"])
    bot.remote_addr = "192.0.2.7"
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY), -2015, 401)
    _nothing_written(funded)
    bot.remote_addr = "10.1.2.3"
    assert bot.call("GET", "account").status_code == 200


def test_read_only_key_cannot_place_or_cancel(funded):
    bot, _ = hmac_bot(funded, permissions=("read",))
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY), -2015, 401)
    assert_binance_error(bot.call("DELETE", "openOrders", {"symbol": "BTCUSDT"}), -2015, 401)
    _nothing_written(funded)
    assert bot.call("GET", "openOrders").status_code == 200


def test_deleted_key_is_refused_on_the_very_next_request(funded):
    bot, key = hmac_bot(funded)
    assert bot.call("GET", "account").status_code == 200
    api_key_delete(user_id=funded.pk, key_id=key.pk)
    assert_binance_error(bot.call("POST", "order", LIMIT_BUY), -2015, 401)
    _nothing_written(funded)


def test_disabled_key_is_refused_and_works_again_when_enabled(funded):
    bot, key = hmac_bot(funded)
    api_key_update(user_id=funded.pk, key_id=key.pk, enabled=False)
    assert_binance_error(bot.call("GET", "account"), -2015, 401)
    api_key_update(user_id=funded.pk, key_id=key.pk, enabled=True)
    assert bot.call("GET", "account").status_code == 200


def test_inactive_user_key_is_refused(funded):
    bot, _ = hmac_bot(funded)
    funded.is_active = False
    funded.save()
    assert_binance_error(bot.call("GET", "account"), -2015, 401)


@pytest.mark.parametrize("api_key", ["", "short", "x" * 63 + "!"])
def test_malformed_api_key_is_refused_with_2014(funded, api_key):
    bot, _ = hmac_bot(funded)
    assert_binance_error(bot.call("GET", "account", api_key=api_key), -2014, 401)


def test_unknown_api_key_is_refused_with_2015(funded):
    bot, _ = hmac_bot(funded)
    assert_binance_error(bot.call("GET", "account", api_key="A" * 64), -2015, 401)


def test_missing_signature_and_timestamp_are_mandatory_parameters(funded):
    bot, _ = hmac_bot(funded)
    assert_binance_error(bot.call("GET", "account", signed=False), -1102, 400)
    resp = bot.client.get(f"/api/v3/account?timestamp={now_ms()}", HTTP_X_MBX_APIKEY=bot.api_key)
    assert_binance_error(resp, -1102, 400)
    assert "signature" in resp.json()["msg"]


def test_hmac_secret_is_encrypted_at_rest(funded):
    bot, key = hmac_bot(funded)
    stored = ApiKey.objects.values_list("secret_encrypted", flat=True).get(pk=key.pk)
    assert bot.secret not in stored
    assert stored


def test_a_changed_encryption_key_refuses_signatures_instead_of_failing(funded, settings):
    bot, _ = hmac_bot(funded)
    settings.API_KEY_ENCRYPTION_KEY = "another-key"
    assert_binance_error(bot.call("GET", "account"), -1022, 400)


def test_request_weight_limit_answers_429_1003_with_retry_after(funded, settings):
    settings.BINANCE_WEIGHT_PER_MINUTE = 25
    bot, _ = hmac_bot(funded)
    assert bot.call("GET", "account").status_code == 200  # weight 20
    resp = bot.call("GET", "account")
    assert_binance_error(resp, -1003, 429)
    assert 1 <= int(resp["Retry-After"]) <= 60


def test_order_count_limit_answers_429_1015(funded, settings):
    settings.BINANCE_ORDERS_PER_10S = 1
    bot, _ = hmac_bot(funded)
    assert bot.call("POST", "order", LIMIT_BUY).status_code == 200
    resp = bot.call("POST", "order", {**LIMIT_BUY, "price": "29000"})
    assert_binance_error(resp, -1015, 429)
    assert resp["Retry-After"]
    assert Order.objects.filter(user=funded).count() == 1
