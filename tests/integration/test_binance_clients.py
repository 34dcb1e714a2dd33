"""Unmodified Binance clients (ccxt, binance-connector) trade against the live stack's /api/v3.

Two traders trade against each other through ccxt; every balance, fee and fill they read
through /api/v3 equals what /api/v1 says, and the ledger audit passes afterwards.
"""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import httpx
import pytest
from binance.spot import Spot

from markets.models import Order
from tests.factories import PASSWORD, UserFactory, fund

from .stack import Stack, free_port, process_env, wait_settled

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ENCRYPTION_KEY = "live-test-api-key-encryption-key"


@pytest.fixture
def binance_stack(transactional_db, flush_redis):
    """web (granian), run_matcher and a Celery worker, with an encryption key for HMAC secrets."""
    s = Stack(port=free_port(), env=process_env(API_KEY_ENCRYPTION_KEY=ENCRYPTION_KEY, BINANCE_ORDER_WAIT_SECONDS="5"))
    try:
        s.start("web")
        s.start("matcher")
        s.start("worker")
        s.wait_http()
        yield s
    finally:
        s.stop_all()


def _jwt_client(stack: Stack, user) -> httpx.Client:
    http = httpx.Client(base_url=stack.url, timeout=30)
    resp = http.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    http.headers["Authorization"] = f"Bearer {resp.json()['access']}"
    return http


def _api_key(http: httpx.Client, *permissions: str) -> tuple[str, str]:
    resp = http.post("/api/v1/api-keys", json={"name": "bot", "permissions": list(permissions), "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return resp.json()["api_key"], resp.json()["secret"]


def _ccxt(kind: str, stack: Stack, key: str, secret: str):
    base = f"{stack.url}/api/v3"
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    exchange = getattr(ccxt, kind)(
        {"apiKey": key, "secret": secret, "options": options if kind == "binance" else {}, "timeout": 30000}
    )
    exchange.urls["api"]["public"] = base
    exchange.urls["api"]["private"] = base
    return exchange


def _v1_balances(http: httpx.Client) -> dict[str, tuple[D, D]]:
    return {r["currency"]: (D(r["balance"]), D(r["locked"])) for r in http.get("/api/v1/balances").json()}


def _ccxt_balances(exchange) -> dict[str, tuple[D, D]]:
    info = exchange.fetch_balance()["info"]["balances"]
    return {b["asset"]: (D(b["free"]) + D(b["locked"]), D(b["locked"])) for b in info}


@pytest.mark.parametrize("kind", ["binance", "binanceus"])
def test_ccxt_two_traders_trade_and_every_number_matches_api_v1(binance_stack, live_market, kind):
    stack, market = binance_stack, live_market
    seller_user, buyer_user = UserFactory(), UserFactory()
    fund(seller_user, market.base, "2")
    fund(buyer_user, market.quote, "100000")
    seller_http, buyer_http = _jwt_client(stack, seller_user), _jwt_client(stack, buyer_user)
    seller = _ccxt(kind, stack, *_api_key(seller_http, "read", "trade"))
    buyer = _ccxt(kind, stack, *_api_key(buyer_http, "read", "trade"))

    markets = seller.load_markets()
    buyer.load_markets()
    assert markets["BTC/USDT"]["id"] == "BTCUSDT"
    assert markets["BTC/USDT"]["precision"]["price"] == 0.01
    assert abs(seller.fetch_time() - seller.milliseconds()) < 10000

    ask = seller.create_order("BTC/USDT", "limit", "sell", 0.5, 30000)
    assert ask["status"] == "open"
    assert ask["filled"] == 0
    book = buyer.fetch_order_book("BTC/USDT")
    assert book["asks"][0][:2] == [30000.0, 0.5]
    assert book["nonce"] > 0

    taken = buyer.create_order("BTC/USDT", "limit", "buy", 0.2, 30000)
    assert taken["status"] == "closed"
    assert taken["filled"] == 0.2
    assert [(f["price"], f["amount"]) for f in taken["trades"]] == [(30000.0, 0.2)]
    by_amount = buyer.create_order("BTC/USDT", "market", "buy", 0.1)
    assert by_amount["status"] == "closed"
    assert by_amount["filled"] == 0.1
    by_cost = buyer.create_market_buy_order_with_cost("BTC/USDT", 3000)
    assert by_cost["status"] == "closed"
    assert by_cost["cost"] == 3000.0
    assert buyer.fetch_order(taken["id"], "BTC/USDT")["status"] == "closed"

    opened = seller.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in opened] == [ask["id"]]
    assert opened[0]["remaining"] == 0.1
    canceled = seller.cancel_order(ask["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert seller.fetch_open_orders("BTC/USDT") == []
    wait_settled(market)

    trades = buyer.fetch_trades("BTC/USDT")
    assert sorted(t["amount"] for t in trades) == [0.1, 0.1, 0.2]
    ticker = buyer.fetch_ticker("BTC/USDT")
    assert ticker["last"] == 30000.0
    assert ticker["baseVolume"] == 0.4
    candles = buyer.fetch_ohlcv("BTC/USDT", "1m")
    assert sum(c[5] for c in candles) == pytest.approx(0.4)
    assert candles[-1][4] == 30000.0

    for exchange, http in ((seller, seller_http), (buyer, buyer_http)):
        assert _ccxt_balances(exchange) == {c: v for c, v in _v1_balances(http).items()}
        mine = exchange.fetch_my_trades("BTC/USDT")
        v1 = {f["id"]: f for f in http.get("/api/v1/trades").json()["results"]}
        assert len(mine) == len(v1) == 3
        for fill in mine:
            row = v1[int(fill["id"])]
            info = fill["info"]
            assert (info["price"], info["qty"], info["quoteQty"]) == (
                row["price"],
                row["quantity"],
                row["quote_quantity"],
            )
            assert (info["commission"], info["commissionAsset"]) == (row["fee"], row["fee_currency"])
            assert fill["takerOrMaker"] == row["liquidity"]
            assert fill["side"] == row["side"]
    # The seller sold 0.4 BTC at 30000 less the 0.1% maker fee; the canceled 0.1 BTC is free again.
    assert _v1_balances(seller_http)["USDT"] == (D("11988"), D("0"))
    assert _v1_balances(seller_http)["BTC"] == (D("1.6"), D("0"))
    # The buyer paid 12000 USDT and got 0.4 BTC less the 0.2% taker fee.
    assert _v1_balances(buyer_http)["USDT"] == (D("88000"), D("0"))
    assert _v1_balances(buyer_http)["BTC"] == (D("0.3992"), D("0"))
    assert stack.manage("audit_ledger").returncode == 0


def test_binance_connector_places_and_cancels_with_query_string_parameters(binance_stack, live_market):
    stack, market = binance_stack, live_market
    user = UserFactory()
    fund(user, market.quote, "10000")
    key, secret = _api_key(_jwt_client(stack, user), "read", "trade")
    client = Spot(api_key=key, api_secret=secret, base_url=stack.url)

    assert client.time()["serverTime"] > 0
    placed = client.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="25000",
        newClientOrderId="connector-1",
    )
    assert placed["status"] == "NEW"
    assert placed["clientOrderId"] == "connector-1"
    again = client.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="25000",
        newClientOrderId="connector-1",
    )
    assert again["orderId"] == placed["orderId"]  # idempotent by newClientOrderId
    assert client.get_order("BTCUSDT", orderId=placed["orderId"])["origQty"] == "0.01"
    canceled = client.cancel_order("BTCUSDT", origClientOrderId="connector-1")
    assert canceled["status"] == "CANCELED"
    wait_settled(market)
    assert Order.objects.get(pk=placed["orderId"]).status == Order.Status.CANCELED
    balances = {b["asset"]: b for b in client.account()["balances"]}
    assert balances["USDT"] == {"asset": "USDT", "free": "10000", "locked": "0"}
    assert stack.manage("audit_ledger").returncode == 0
