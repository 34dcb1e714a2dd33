from decimal import Decimal as D

import pytest

from accounts.selectors import fee_account
from markets.models import Order, Trade
from tests.factories import fund, match_and_settle
from tests.trading.helpers import balance, post_order

pytestmark = pytest.mark.django_db


def test_limit_orders_cross_and_settle_with_exact_fees(market, traders):
    alice, bob, ca, cb = traders
    sell = post_order(cb, side="sell", type="limit", price="30000.00", quantity="0.5")
    assert sell.status_code == 201, sell.json()
    assert sell.json()["status"] == "new"
    assert balance(bob, market.base) == (D("10"), D("0.5"))
    match_and_settle(market)
    buy = post_order(ca, side="buy", type="limit", price="30100", quantity="0.2")
    assert buy.status_code == 201
    assert balance(alice, market.quote) == (D("100000"), D("6020"))
    match_and_settle(market)

    trade = Trade.objects.get()
    assert trade.price == D("30000")
    assert trade.quantity == D("0.2")
    assert trade.quote_quantity == D("6000")
    assert trade.taker_fee == D("0.0004")  # buyer (taker) pays 0.2% in BTC
    assert trade.maker_fee == D("6")  # seller (maker) pays 0.1% in USDT
    # Buyer: paid 6000 USDT, the unused 20 USDT of the lock is released; gets 0.2 - 0.0004 BTC.
    assert balance(alice, market.quote) == (D("94000"), D("0"))
    assert balance(alice, market.base) == (D("0.1996"), D("0"))
    # Seller: 0.2 BTC left, 0.3 still locked on the book; gets 6000 - 6 USDT.
    assert balance(bob, market.base) == (D("9.8"), D("0.3"))
    assert balance(bob, market.quote) == (D("5994"), D("0"))
    fees = fee_account()
    assert balance(fees, market.base) == (D("0.0004"), D("0"))
    assert balance(fees, market.quote) == (D("6"), D("0"))

    assert Order.objects.get(pk=buy.json()["id"]).status == "filled"
    seller_order = ca.get(f"/api/v1/orders/{sell.json()['id']}")
    assert seller_order.status_code == 404  # another user's order
    mine = cb.get(f"/api/v1/orders/{sell.json()['id']}").json()
    assert mine["status"] == "partially_filled"
    assert mine["filled_quantity"] == "0.2"
    fills = ca.get("/api/v1/trades").json()["results"]
    assert fills[0]["fee"] == "0.0004"
    assert fills[0]["fee_currency"] == "BTC"
    assert fills[0]["liquidity"] == "taker"


def test_order_that_cannot_be_funded_answers_insufficient_funds_and_changes_nothing(market, traders):
    alice, _, ca, _ = traders
    resp = post_order(ca, side="buy", type="limit", price="100000", quantity="2")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "insufficient_funds"
    assert Order.objects.count() == 0
    assert balance(alice, market.quote) == (D("100000"), D("0"))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"side": "buy", "type": "limit", "price": "100.001", "quantity": "1"}, "invalid_price"),
        ({"side": "buy", "type": "limit", "price": "-1", "quantity": "1"}, "invalid_price"),
        ({"side": "buy", "type": "limit", "price": "100", "quantity": "0.000001"}, "invalid_quantity"),
        ({"side": "buy", "type": "limit", "price": "100", "quantity": "0"}, "invalid_quantity"),
        ({"side": "buy", "type": "limit", "price": "1", "quantity": "0.1"}, "min_notional"),
        ({"side": "buy", "type": "limit", "price": "NaN", "quantity": "1"}, "invalid_price"),
        ({"side": "buy", "type": "limit", "price": "Infinity", "quantity": "1"}, "invalid_price"),
        ({"side": "buy", "type": "limit", "price": "1e400", "quantity": "1"}, "invalid_price"),
        ({"side": "buy", "type": "limit", "quantity": "1"}, "validation_error"),
        ({"side": "sideways", "type": "limit", "price": "1", "quantity": "1"}, "validation_error"),
        ({"side": "buy", "type": "market", "quantity": "1", "quote_quantity": "10"}, "validation_error"),
        ({"side": "buy", "type": "limit", "price": ["1"], "quantity": "1"}, "invalid_price"),
        ({"market": "NOPE-USDT", "side": "buy", "type": "limit", "price": "1", "quantity": "1"}, "validation_error"),
    ],
)
def test_invalid_orders_answer_the_api_error_code(market, traders, body, code):
    _, _, ca, _ = traders
    resp = post_order(ca, **body)
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == code
    assert Order.objects.count() == 0


def test_halted_market_refuses_new_orders(market, traders):
    market.status = "halted"
    market.save()
    resp = post_order(traders[2], side="buy", type="limit", price="100", quantity="1")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "market_halted"


def test_same_client_order_id_is_idempotent_and_conflicts_on_other_payload(market, traders):
    _, _, ca, _ = traders
    body = {"side": "buy", "type": "limit", "price": "100", "quantity": "1", "client_order_id": "abc-1"}
    first = post_order(ca, **body)
    again = post_order(ca, **body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other = post_order(ca, **{**body, "price": "101"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "duplicate_client_order_id"
    assert ca.get("/api/v1/orders/by-client-id/abc-1").json()["id"] == first.json()["id"]


def test_cancel_releases_funds_after_the_matcher_takes_the_order_off_the_book(market, traders):
    alice, _, ca, _ = traders
    order = post_order(ca, side="buy", type="limit", price="100", quantity="1").json()
    match_and_settle(market)
    resp = ca.delete(f"/api/v1/orders/{order['id']}")
    assert resp.status_code == 202
    assert balance(alice, market.quote) == (D("100000"), D("100"))
    match_and_settle(market)
    assert Order.objects.get(pk=order["id"]).status == "canceled"
    assert balance(alice, market.quote) == (D("100000"), D("0"))
    again = ca.delete(f"/api/v1/orders/{order['id']}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_not_cancelable"


def test_cancel_all_in_a_market(market, traders):
    alice, _, ca, _ = traders
    for price in ("100", "101", "102"):
        post_order(ca, side="buy", type="limit", price=price, quantity="1")
    match_and_settle(market)
    resp = ca.delete("/api/v1/orders?market=BTC-USDT")
    assert resp.status_code == 202
    assert resp.json() == {"canceled": 3}
    match_and_settle(market)
    assert set(Order.objects.values_list("status", flat=True)) == {"canceled"}
    assert balance(alice, market.quote) == (D("100000"), D("0"))


def test_market_buy_by_quote_budget_never_spends_more(market, traders):
    alice, bob, ca, cb = traders
    post_order(cb, side="sell", type="limit", price="100", quantity="1")
    post_order(cb, side="sell", type="limit", price="101", quantity="1")
    match_and_settle(market)
    buy = post_order(ca, side="buy", type="market", quote_quantity="150")
    assert buy.status_code == 201
    match_and_settle(market)
    order = Order.objects.get(pk=buy.json()["id"])
    assert order.filled_quote <= D("150")
    assert order.filled_quantity == D("1") + D("0.49504")  # 50 USDT buys 0.49504 BTC at 101
    assert order.status == "filled"
    assert balance(alice, market.quote) == (D("100000") - order.filled_quote, D("0"))


def test_market_order_without_liquidity_expires_and_unlocks(market, traders):
    _, bob, _, cb = traders
    resp = post_order(cb, side="sell", type="market", quantity="1")
    match_and_settle(market)
    order = Order.objects.get(pk=resp.json()["id"])
    assert order.status == "expired"
    assert order.cancel_reason == "no_liquidity"
    assert balance(bob, market.base) == (D("10"), D("0"))


def test_self_trade_prevention_cancels_the_taker(market, make_trader, auth_client):
    user = make_trader()
    fund(user, market.quote, "1000")
    fund(user, market.base, "1")
    client = auth_client(user)
    maker = post_order(client, side="sell", type="limit", price="100", quantity="1").json()
    taker = post_order(client, side="buy", type="limit", price="100", quantity="1").json()
    match_and_settle(market)
    assert Trade.objects.count() == 0
    assert Order.objects.get(pk=taker["id"]).cancel_reason == "self_trade"
    assert Order.objects.get(pk=maker["id"]).status == "open"
    assert balance(user, market.quote) == (D("1000"), D("0"))


def test_private_endpoints_need_a_token(api):
    for path in ("/api/v1/orders", "/api/v1/trades", "/api/v1/orders/1"):
        resp = api.get(path)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "not_authenticated"
