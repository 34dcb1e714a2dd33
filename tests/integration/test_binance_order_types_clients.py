"""Unmodified Binance clients use the new order types on the live stack's /api/v3.

ccxt places a stop-loss-limit order with ``stopPrice`` that a later trade triggers;
binance-connector places, lists and cancels an OCO pair and amends an order keeping its
queue place. Balances agree with /api/v1 and the ledger audit passes afterwards.
"""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from binance.spot import Spot

from markets.models import Order, OrderList
from tests.factories import UserFactory, fund

from .stack import wait_settled
from .test_binance_clients import _api_key, _ccxt, _jwt_client, _v1_balances, binance_stack  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def _until(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_ccxt_stop_loss_limit_triggers_and_fills(binance_stack, live_market):  # noqa: F811
    stack, market = binance_stack, live_market
    seller_user, buyer_user = UserFactory(), UserFactory()
    fund(seller_user, market.base, "2")
    fund(buyer_user, market.quote, "100000")
    seller_http, buyer_http = _jwt_client(stack, seller_user), _jwt_client(stack, buyer_user)
    seller = _ccxt("binance", stack, *_api_key(seller_http, "read", "trade"))
    buyer = _ccxt("binance", stack, *_api_key(buyer_http, "read", "trade"))
    seller.load_markets()
    buyer.load_markets()
    seller.create_order("BTC/USDT", "limit", "sell", 0.1, 30000)
    buyer.create_order("BTC/USDT", "limit", "buy", 0.1, 30000)  # last price 30000

    stop = seller.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.2, 29400, {"stopPrice": 29500})
    fetched = seller.fetch_order(stop["id"], "BTC/USDT")
    assert fetched["status"] == "open"
    assert fetched["info"]["type"] == "STOP_LOSS_LIMIT"
    assert float(fetched["info"]["stopPrice"]) == 29500
    assert [o["id"] for o in seller.fetch_open_orders("BTC/USDT")] == [stop["id"]]
    with pytest.raises(Exception, match="Order would trigger immediately"):
        seller.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.1, 30100, {"stopPrice": 30100})

    buyer.create_order("BTC/USDT", "limit", "buy", 0.5, 29500)
    seller.create_order("BTC/USDT", "market", "sell", 0.1)  # trades at 29500: the stop triggers
    _until(lambda: seller.fetch_order(stop["id"], "BTC/USDT")["status"] == "closed", "the stop to fill")
    assert Order.objects.get(pk=int(stop["id"])).triggered_at is not None
    wait_settled(market)
    assert _v1_balances(seller_http)["BTC"] == (D("1.6"), D("0"))
    assert stack.manage("audit_ledger").returncode == 0


def test_binance_connector_oco_and_amend_keep_priority(binance_stack, live_market):  # noqa: F811
    stack, market = binance_stack, live_market
    seller_user, buyer_user = UserFactory(), UserFactory()
    fund(seller_user, market.base, "2")
    fund(buyer_user, market.quote, "100000")
    seller = Spot(*_api_key(_jwt_client(stack, seller_user), "read", "trade"), base_url=stack.url)
    buyer = Spot(*_api_key(_jwt_client(stack, buyer_user), "read", "trade"), base_url=stack.url)
    seller.new_order(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.1", price="30000")
    buyer.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="30000")

    oco = seller.new_oco_order(
        "BTCUSDT",
        "SELL",
        "0.5",
        "LIMIT_MAKER",
        "STOP_LOSS_LIMIT",
        abovePrice="32000",
        belowStopPrice="29000",
        belowPrice="28900",
        belowTimeInForce="GTC",
        listClientOrderId="connector-oco",
    )
    assert oco["contingencyType"] == "OCO"
    assert len(oco["orderReports"]) == 2
    assert seller.get_oco_order(origClientOrderId="connector-oco")["orderListId"] == oco["orderListId"]
    assert [x["orderListId"] for x in seller.get_oco_open_orders()] == [oco["orderListId"]]
    # One lock for the pair: the 0.5 BTC both legs could sell, not 1.
    locked = {b["asset"]: b["locked"] for b in seller.account()["balances"]}
    assert locked["BTC"] == "0.5"
    canceled = seller.cancel_oco_order("BTCUSDT", orderListId=oco["orderListId"])
    assert {r["status"] for r in canceled["orderReports"]} <= {"CANCELED", "NEW"}
    _until(lambda: OrderList.objects.get(pk=oco["orderListId"]).status == OrderList.Status.DONE, "the list to close")
    assert seller.get_oco_open_orders() == []

    first = seller.new_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.3", price="31000"
    )
    second = seller.new_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.3", price="31000"
    )
    amended = seller.sign_request(
        "PUT",
        "/api/v3/order/amend/keepPriority",
        {"symbol": "BTCUSDT", "orderId": first["orderId"], "newQty": "0.2", "newClientOrderId": first["clientOrderId"]},
    )
    assert amended["amendedOrder"]["qty"] == "0.2"
    taken = buyer.new_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.2", price="31000"
    )
    assert taken["status"] == "FILLED"
    assert seller.get_order("BTCUSDT", orderId=first["orderId"])["status"] == "FILLED"
    assert seller.get_order("BTCUSDT", orderId=second["orderId"])["executedQty"] == "0"
    wait_settled(market)
    assert stack.manage("audit_ledger").returncode == 0
