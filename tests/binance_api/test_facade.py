"""The /api/v3 facade over the real services: Binance's shapes, and the same numbers as /api/v1."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import Market, Order, Trade
from tests.factories import UserFactory, fund, match_and_settle

from .helpers import Bot, assert_binance_error, hmac_bot

pytestmark = pytest.mark.django_db


def public(path: str, **params):
    return Bot(api_key="").call("GET", path, params, signed=False)


@pytest.fixture
def traders(market):
    seller, buyer = UserFactory(), UserFactory()
    fund(seller, market.base, "2")
    fund(buyer, market.quote, "100000")
    return hmac_bot(seller)[0], hmac_bot(buyer)[0], seller, buyer


def limit(side: str, price: str, qty: str, **extra):
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "quantity": qty,
        **extra,
    }


def test_exchange_info_states_our_markets_as_binance_symbols(market):
    resp = public("exchangeInfo")
    assert resp.status_code == 200
    (info,) = resp.json()["symbols"]
    assert info["symbol"] == "BTCUSDT"
    assert info["baseAsset"] == "BTC"
    assert info["quoteAsset"] == "USDT"
    assert info["status"] == "TRADING"
    assert info["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
    filters = {f["filterType"]: f for f in info["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001"
    assert filters["LOT_SIZE"]["minQty"] == "0.00001"
    assert filters["NOTIONAL"]["minNotional"] == "1"
    assert {r["rateLimitType"] for r in resp.json()["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    assert public("exchangeInfo", symbols='["BTCUSDT"]').json()["symbols"][0]["symbol"] == "BTCUSDT"
    assert_binance_error(public("exchangeInfo", symbol="ETHUSDT"), -1121, 400)
    market.status = Market.Status.HALTED
    market.save()  # a save bumps the markets' cache version, as the settings services' saves do
    assert public("exchangeInfo").json()["symbols"][0]["status"] == "HALT"


def test_ping_and_time():
    assert public("ping").json() == {}
    assert public("time").json()["serverTime"] > 1_700_000_000_000


def test_two_traders_trade_and_every_number_matches_api_v1(market, traders, auth_client):
    seller_bot, buyer_bot, seller, buyer = traders
    first = seller_bot.call("POST", "order", limit("SELL", "30000", "0.5", newOrderRespType="ACK")).json()
    second = seller_bot.call("POST", "order", limit("SELL", "30100", "0.3")).json()
    assert set(first) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert second["status"] == "NEW"
    assert second["fills"] == []
    match_and_settle(market)
    taker = buyer_bot.call("POST", "order", limit("BUY", "30100", "0.6", newClientOrderId="buy-1")).json()
    match_and_settle(market)

    got = buyer_bot.call("GET", "order", {"symbol": "BTCUSDT", "origClientOrderId": "buy-1"}).json()
    assert got["orderId"] == taker["orderId"]
    assert got["status"] == "FILLED"
    assert got["executedQty"] == "0.6"
    assert got["cummulativeQuoteQty"] == "18010"
    rest = seller_bot.call("GET", "order", {"symbol": "BTCUSDT", "orderId": second["orderId"]}).json()
    assert rest["status"] == "PARTIALLY_FILLED"
    assert rest["executedQty"] == "0.1"
    assert rest["isWorking"] is True

    for bot, user in ((seller_bot, seller), (buyer_bot, buyer)):
        v1 = auth_client(user)
        balances = {b["asset"]: b for b in bot.call("GET", "account").json()["balances"]}
        for row in v1.get("/api/v1/balances").json():
            assert balances[row["currency"]] == {
                "asset": row["currency"],
                "free": row["available"],
                "locked": row["locked"],
            }
        fills = {f["id"]: f for f in v1.get("/api/v1/trades").json()["results"]}
        mine = bot.call("GET", "myTrades", {"symbol": "BTCUSDT"}).json()
        assert len(mine) == len(fills) == 2
        for trade in mine:
            fill = fills[trade["id"]]
            assert (trade["price"], trade["qty"], trade["quoteQty"]) == (
                fill["price"],
                fill["quantity"],
                fill["quote_quantity"],
            )
            assert (trade["commission"], trade["commissionAsset"]) == (fill["fee"], fill["fee_currency"])
            assert trade["isMaker"] == (fill["liquidity"] == "maker")
            assert trade["isBuyer"] == (fill["side"] == "buy")
            assert trade["orderId"] == fill["order_id"]

    depth = public("depth", symbol="BTCUSDT").json()
    assert depth["lastUpdateId"] == Market.objects.get(pk=market.pk).last_sequence
    assert depth["bids"] == []
    assert depth["asks"] == [["30100", "0.2"]]
    trades = public("trades", symbol="BTCUSDT").json()
    assert [(t["price"], t["qty"], t["isBuyerMaker"]) for t in trades] == [
        ("30000", "0.5", False),
        ("30100", "0.1", False),
    ]
    aggs = public("aggTrades", symbol="BTCUSDT").json()
    assert [(a["p"], a["q"], a["f"], a["l"]) for a in aggs] == [
        ("30000", "0.5", trades[0]["id"], trades[0]["id"]),
        ("30100", "0.1", trades[1]["id"], trades[1]["id"]),
    ]
    klines = public("klines", symbol="BTCUSDT", interval="1m").json()
    assert klines[-1][1:6] == ["30000", "30100", "30000", "30100", "0.6"]
    assert klines[-1][8] == 2
    ticker = public("ticker/24hr", symbol="BTCUSDT").json()
    assert ticker["lastPrice"] == "30100"
    assert ticker["volume"] == "0.6"
    assert ticker["quoteVolume"] == "18010"
    assert ticker["askPrice"] == "30100"
    assert ticker["askQty"] == "0.2"
    assert ticker["count"] == 2
    assert public("ticker/price", symbol="BTCUSDT").json() == {"symbol": "BTCUSDT", "price": "30100"}
    assert public("ticker/bookTicker").json()[0]["askQty"] == "0.2"
    avg = public("avgPrice", symbol="BTCUSDT").json()
    assert avg == {"mins": 5, "price": "30016.666666666666666666", "closeTime": trades[1]["time"]}


def test_new_client_order_id_makes_a_replayed_placement_harmless(market, traders):
    _, buyer_bot, _, buyer = traders
    params = limit("BUY", "25000", "0.01", newClientOrderId="bot-42")
    first = buyer_bot.call("POST", "order", params).json()
    again = buyer_bot.call("POST", "order", params).json()
    assert again["orderId"] == first["orderId"]
    assert Order.objects.filter(user=buyer).count() == 1
    assert_binance_error(buyer_bot.call("POST", "order", {**params, "price": "24000"}), -2010, 400)


def test_market_orders_by_quantity_and_by_quote_amount(market, traders):
    seller_bot, buyer_bot, _, buyer = traders
    seller_bot.call("POST", "order", limit("SELL", "30000", "1"))
    match_and_settle(market)
    by_qty = buyer_bot.call("POST", "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"})
    # A market buy by quantity reserves the whole available quote until it closes and settles.
    match_and_settle(market)
    by_quote = buyer_bot.call(
        "POST", "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "3000"}
    )
    assert by_qty.status_code == by_quote.status_code == 200
    match_and_settle(market)
    a, b = (Order.objects.get(pk=r.json()["orderId"]) for r in (by_qty, by_quote))
    assert a.type == b.type == "market"
    assert a.quantity == Decimal("0.1")
    assert b.quote_quantity == Decimal("3000")
    assert a.filled_quantity == b.filled_quantity == Decimal("0.1")
    assert buyer_bot.call("GET", "order", {"symbol": "BTCUSDT", "orderId": b.pk}).json()["origQuoteOrderQty"] == "3000"


def test_limit_maker_is_post_only_and_refused_when_it_would_take(market, traders):
    seller_bot, buyer_bot, _, buyer = traders
    seller_bot.call("POST", "order", limit("SELL", "30000", "0.1"))
    match_and_settle(market)
    resp = buyer_bot.call(
        "POST",
        "order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": "30000", "quantity": "0.1"},
    )
    assert resp.status_code == 200
    assert set(resp.json()) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    order = Order.objects.get(pk=resp.json()["orderId"])
    assert order.post_only is True
    match_and_settle(market)
    got = buyer_bot.call("GET", "order", {"symbol": "BTCUSDT", "orderId": order.pk}).json()
    assert got["type"] == "LIMIT_MAKER"
    assert got["status"] == "REJECTED"


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        ({"price": "30000.001"}, -1013, "PRICE_FILTER"),
        ({"quantity": "0.000001"}, -1013, "LOT_SIZE"),
        ({"quantity": "0.00001", "price": "1"}, -1013, "NOTIONAL"),
        ({"quantity": "10"}, -2010, "insufficient balance"),
        ({"timeInForce": None}, -1102, "timeInForce"),
        ({"side": "HOLD"}, -1117, "side"),
        ({"type": "TRAILING_STOP"}, -1116, "orderType"),
        ({"timeInForce": "GTD"}, -1115, "timeInForce"),
        ({"quoteOrderQty": "10"}, -1106, "quoteOrderQty"),
        ({"stopPrice": "1"}, -1106, "stopPrice"),
        ({"selfTradePreventionMode": "NONE"}, -1013, "self-trade"),
        ({"newOrderRespType": "ALL"}, -1130, "newOrderRespType"),
        ({"newClientOrderId": "has space"}, -1100, "newClientOrderId"),
        ({"symbol": "DOGEUSDT"}, -1121, "symbol"),
    ],
)
def test_refused_orders_carry_binance_codes_and_write_nothing(market, traders, params, code, needle):
    _, buyer_bot, _, buyer = traders
    body = {k: v for k, v in {**limit("BUY", "30000", "0.1"), **params}.items() if v is not None}
    resp = buyer_bot.call("POST", "order", body)
    assert_binance_error(resp, code, 400)
    assert needle.lower() in resp.json()["msg"].lower()
    assert not Order.objects.filter(user=buyer).exists()


def test_market_order_parameter_rules(market, traders):
    _, buyer_bot, _, buyer = traders
    base = {"symbol": "BTCUSDT", "type": "MARKET"}
    assert_binance_error(buyer_bot.call("POST", "order", {**base, "side": "BUY"}), -1102, 400)
    assert_binance_error(buyer_bot.call("POST", "order", {**base, "side": "BUY", "quantity": "1", "price": "1"}), -1106)
    assert_binance_error(buyer_bot.call("POST", "order", {**base, "side": "SELL", "quoteOrderQty": "10"}), -1013)
    assert_binance_error(
        buyer_bot.call("POST", "order", {**base, "side": "BUY", "quantity": "1", "timeInForce": "GTC"}), -1106
    )
    assert not Order.objects.filter(user=buyer).exists()


def test_order_test_validates_without_placing(market, traders):
    _, buyer_bot, _, buyer = traders
    assert buyer_bot.call("POST", "order/test", limit("BUY", "30000", "0.1")).json() == {}
    rates = buyer_bot.call("POST", "order/test", limit("BUY", "30000", "0.1", computeCommissionRates="true")).json()
    assert rates["standardCommissionForOrder"] == {"maker": "0.001", "taker": "0.002"}
    assert_binance_error(buyer_bot.call("POST", "order/test", limit("BUY", "30000.001", "0.1")), -1013)
    assert not Order.objects.filter(user=buyer).exists()


def test_cancel_open_orders_and_lists(market, traders):
    _, buyer_bot, _, buyer = traders
    ids = [buyer_bot.call("POST", "order", limit("BUY", p, "0.01")).json()["orderId"] for p in ("20000", "21000")]
    match_and_settle(market)
    opened = buyer_bot.call("GET", "openOrders", {"symbol": "BTCUSDT"}).json()
    assert [o["orderId"] for o in opened] == ids
    assert all(o["status"] == "NEW" for o in opened)
    canceled = buyer_bot.call("DELETE", "order", {"symbol": "BTCUSDT", "orderId": ids[0]}).json()
    assert canceled["orderId"] == ids[0]
    assert canceled["origClientOrderId"]
    match_and_settle(market)
    assert buyer_bot.call("GET", "order", {"symbol": "BTCUSDT", "orderId": ids[0]}).json()["status"] == "CANCELED"
    assert_binance_error(buyer_bot.call("DELETE", "order", {"symbol": "BTCUSDT", "orderId": ids[0]}), -2011)
    assert len(buyer_bot.call("DELETE", "openOrders", {"symbol": "BTCUSDT"}).json()) == 1
    match_and_settle(market)
    assert buyer_bot.call("GET", "openOrders").json() == []
    assert_binance_error(buyer_bot.call("DELETE", "openOrders", {"symbol": "BTCUSDT"}), -2011)
    every = buyer_bot.call("GET", "allOrders", {"symbol": "BTCUSDT"}).json()
    assert [(o["orderId"], o["status"]) for o in every] == [(ids[0], "CANCELED"), (ids[1], "CANCELED")]
    assert [
        o["orderId"] for o in buyer_bot.call("GET", "allOrders", {"symbol": "BTCUSDT", "orderId": ids[1]}).json()
    ] == [ids[1]]


def test_another_users_orders_and_trades_are_out_of_reach(market, traders):
    seller_bot, buyer_bot, _, buyer = traders
    order_id = seller_bot.call("POST", "order", limit("SELL", "30000", "0.1")).json()["orderId"]
    match_and_settle(market)
    assert_binance_error(buyer_bot.call("GET", "order", {"symbol": "BTCUSDT", "orderId": order_id}), -2013)
    assert_binance_error(buyer_bot.call("DELETE", "order", {"symbol": "BTCUSDT", "orderId": order_id}), -2013)
    assert buyer_bot.call("GET", "openOrders").json() == []
    assert buyer_bot.call("GET", "allOrders", {"symbol": "BTCUSDT"}).json() == []
    assert buyer_bot.call("GET", "myTrades", {"symbol": "BTCUSDT"}).json() == []
    assert Order.objects.get(pk=order_id).cancel_requested_at is None
    assert not Trade.objects.exists()
