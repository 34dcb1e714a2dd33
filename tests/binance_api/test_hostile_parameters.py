"""Hostile parameters on every /api/v3 endpoint: never a 5xx, always Binance's error body, and a
refused write changes nothing."""

from __future__ import annotations

import pytest

from markets.models import Order
from tests.factories import UserFactory, fund
from tests.security.helpers import state

from .helpers import Bot, hmac_bot

pytestmark = pytest.mark.django_db

HOSTILE = [
    "",
    "-1",
    "0",
    "1e5",
    "NaN",
    "Infinity",
    "1.5",
    "99999999999999999999999999999999",
    "0." + "0" * 30 + "1",
    "٣",
    "９",
    "x" * 5000,
    "'; DROP TABLE markets_order; --",
    '["BTCUSDT"',
    "[1,2]",
    "\u202e",
    "\U0001f600",
    "null",
]

# (method, path, parameters a valid call sends): each parameter gets every hostile value in turn.
ENDPOINTS = [
    ("GET", "exchangeInfo", {"symbol": "BTCUSDT"}),
    ("GET", "exchangeInfo", {"symbols": '["BTCUSDT"]'}),
    ("GET", "depth", {"symbol": "BTCUSDT", "limit": "10"}),
    ("GET", "trades", {"symbol": "BTCUSDT", "limit": "10"}),
    ("GET", "aggTrades", {"symbol": "BTCUSDT", "fromId": "1", "limit": "10"}),
    ("GET", "aggTrades", {"symbol": "BTCUSDT", "startTime": "1700000000000", "endTime": "1700000001000"}),
    ("GET", "klines", {"symbol": "BTCUSDT", "interval": "1m", "startTime": "1700000000000", "limit": "5"}),
    ("GET", "ticker/24hr", {"symbol": "BTCUSDT", "type": "MINI"}),
    ("GET", "ticker/price", {"symbols": '["BTCUSDT"]'}),
    ("GET", "ticker/bookTicker", {"symbol": "BTCUSDT"}),
    ("GET", "avgPrice", {"symbol": "BTCUSDT"}),
]
SIGNED = [
    ("GET", "account", {"omitZeroBalances": "true", "recvWindow": "5000"}),
    (
        "POST",
        "order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01",
            "price": "100",
            "newClientOrderId": "h-1",
            "newOrderRespType": "RESULT",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        },
    ),
    ("POST", "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "10"}),
    (
        "POST",
        "order/test",
        {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT_MAKER", "quantity": "0.01", "price": "100"},
    ),
    ("GET", "order", {"symbol": "BTCUSDT", "orderId": "1", "origClientOrderId": "h-1"}),
    ("DELETE", "order", {"symbol": "BTCUSDT", "orderId": "1", "newClientOrderId": "c-1"}),
    ("GET", "openOrders", {"symbol": "BTCUSDT"}),
    ("DELETE", "openOrders", {"symbol": "BTCUSDT"}),
    ("GET", "allOrders", {"symbol": "BTCUSDT", "orderId": "1", "startTime": "1700000000000", "limit": "5"}),
    ("GET", "myTrades", {"symbol": "BTCUSDT", "orderId": "1", "fromId": "1", "endTime": "1700000000000"}),
]


def assert_binance_shape(resp, label: str) -> None:
    assert resp.status_code < 500, (label, resp.status_code, resp.content[:300])
    if resp.status_code >= 400:
        body = resp.json()
        assert set(body) == {"code", "msg"}, (label, body)
        assert isinstance(body["code"], int), (label, body)
        assert body["code"] < 0, (label, body)
        assert isinstance(body["msg"], str), (label, body)


@pytest.fixture
def bot(market):
    user = UserFactory()
    fund(user, market.quote, "1000")
    fund(user, market.base, "1")
    return hmac_bot(user)[0]


def _variants(params: dict[str, str]):
    for name in params:
        for value in HOSTILE:
            yield name, {**params, name: value}


@pytest.mark.parametrize(("method", "path", "params"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_public_endpoints_refuse_hostile_parameters_in_binance_shape(market, method, path, params):
    client = Bot(api_key="")
    for name, variant in _variants(params):
        assert_binance_shape(client.call(method, path, variant, signed=False), f"{path} {name}={variant[name]!r}")


@pytest.mark.parametrize(("method", "path", "params"), SIGNED, ids=[f"{m} {p}" for m, p, _ in SIGNED])
def test_signed_endpoints_refuse_hostile_parameters_in_binance_shape(market, bot, method, path, params):
    for name, variant in _variants(params):
        resp = bot.call(method, path, variant, in_body=method == "POST")
        assert_binance_shape(resp, f"{path} {name}={variant[name][:40]!r}")


def test_refused_hostile_orders_write_nothing(market):
    # One USDT: whatever a hostile value turns into, the order is refused (funds, filters or syntax).
    poor = UserFactory()
    fund(poor, market.quote, "1")
    bot = hmac_bot(poor)[0]
    before = state()
    for name, variant in _variants(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "100", "price": "100"}
    ):
        resp = bot.call("POST", "order", variant)
        assert resp.status_code == 400, (name, variant[name], resp.content)
    assert state() == before
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type"),
    [
        ("GET", "/api/v3/depth?symbol=BTCUSDT&symbol=ETHUSDT", None, None),
        ("GET", "/api/v3/depth?symbol=%ff%fe", None, None),
        ("GET", "/api/v3/depth?symbol=BTC%00USDT", None, None),
        ("GET", "/api/v3/depth?" + "&".join(f"p{i}=1" for i in range(100)), None, None),
        ("POST", "/api/v3/order", '{"symbol": "BTCUSDT"}', "application/json"),
        ("POST", "/api/v3/order", b"symbol=\xff\xfe", "application/x-www-form-urlencoded"),
        ("POST", "/api/v3/order", "a=" + "x" * 300_000, "application/x-www-form-urlencoded"),
        ("PUT", "/api/v3/order", "", None),
        ("GET", "/api/v3/nothing/here", None, None),
        ("GET", "/api/v3/ticker", None, None),
        ("PATCH", "/api/v3/ping", None, None),
    ],
)
def test_malformed_requests_answer_in_binance_shape(market, bot, method, url, body, content_type):
    extra = {"HTTP_X_MBX_APIKEY": bot.api_key}
    if body is None:
        resp = bot.client.generic(method, url, **extra)
    else:
        resp = bot.client.generic(method, url, data=body, content_type=content_type, **extra)
    assert resp.status_code >= 400
    assert_binance_shape(resp, url[:60])
