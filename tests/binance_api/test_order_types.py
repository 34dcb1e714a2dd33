"""Stop-loss orders, OCO order lists and amend-keep-priority on /api/v3, over the real services and matcher."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import Order, OrderList
from tests.factories import UserFactory, fund, match_and_settle

from .helpers import Bot, assert_binance_error, hmac_bot

pytestmark = pytest.mark.django_db
SYMBOL = "BTCUSDT"


@pytest.fixture
def bots(market):
    """A seller and a buyer (each with a trading key), and a last trade at 30000."""
    seller, buyer = UserFactory(), UserFactory()
    fund(seller, market.base, "5")
    fund(buyer, market.quote, "300000")
    seller_bot, buyer_bot = hmac_bot(seller)[0], hmac_bot(buyer)[0]
    seller_bot.call("POST", "order", _limit("SELL", "30000", "0.1"))
    match_and_settle(market)
    buyer_bot.call("POST", "order", _limit("BUY", "30000", "0.1"))
    match_and_settle(market)
    return seller_bot, buyer_bot, seller, buyer


def _limit(side: str, price: str, qty: str, **extra):
    return {
        "symbol": SYMBOL,
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "quantity": qty,
        **extra,
    }


def _stop_limit(side: str, stop: str, price: str, qty: str, **extra):
    return {
        "symbol": SYMBOL,
        "side": side,
        "type": "STOP_LOSS_LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "stopPrice": stop,
        "quantity": qty,
        **extra,
    }


def _oco_sell(**extra):
    return {
        "symbol": SYMBOL,
        "side": "SELL",
        "quantity": "0.5",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "32000",
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": "29000",
        "belowPrice": "28900",
        "belowTimeInForce": "GTC",
        **extra,
    }


def _get(bot: Bot, order_id: int) -> dict:
    return bot.call("GET", "order", {"symbol": SYMBOL, "orderId": order_id}).json()


def test_exchange_info_states_the_new_types_truthfully(market):
    (info,) = Bot(api_key="").call("GET", "exchangeInfo", signed=False).json()["symbols"]
    assert info["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
    assert info["ocoAllowed"] is True
    assert info["amendAllowed"] is True
    assert (info["otoAllowed"], info["opoAllowed"], info["allowTrailingStop"]) == (False, False, False)
    assert (info["icebergAllowed"], info["cancelReplaceAllowed"]) == (False, False)


def test_stop_loss_limit_waits_then_triggers_and_trades(market, bots):
    seller_bot, buyer_bot, seller, _ = bots
    placed = seller_bot.call("POST", "order", _stop_limit("SELL", "29500", "29400", "0.2", newClientOrderId="sl-1"))
    assert placed.status_code == 200, placed.json()
    # Binance's default answer for a stop order is ACK.
    assert set(placed.json()) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    order_id = placed.json()["orderId"]
    match_and_settle(market)
    waiting = _get(seller_bot, order_id)
    assert (waiting["type"], waiting["status"], waiting["stopPrice"]) == ("STOP_LOSS_LIMIT", "NEW", "29500")
    assert (waiting["isWorking"], waiting["workingTime"], waiting["price"]) == (False, -1, "29400")
    assert Order.objects.get(pk=order_id).status == Order.Status.UNTRIGGERED
    assert [o["orderId"] for o in seller_bot.call("GET", "openOrders", {"symbol": SYMBOL}).json()] == [order_id]

    # A trade at 29500 (the buyer's bid taken by a market sell) crosses the stop.
    buyer_bot.call("POST", "order", _limit("BUY", "29500", "0.5"))
    match_and_settle(market)
    seller_bot.call("POST", "order", {"symbol": SYMBOL, "side": "SELL", "type": "MARKET", "quantity": "0.1"})
    match_and_settle(market)
    match_and_settle(market)

    triggered = _get(seller_bot, order_id)
    assert triggered["workingTime"] > 0
    assert triggered["status"] in ("FILLED", "PARTIALLY_FILLED")
    assert Decimal(triggered["executedQty"]) > 0
    assert Order.objects.get(pk=order_id).triggered_at is not None


def test_stop_loss_market_buy_result_and_immediate_trigger_refused(market, bots):
    _, buyer_bot, _, buyer = bots
    stop = {"symbol": SYMBOL, "side": "BUY", "type": "STOP_LOSS", "quantity": "0.01", "stopPrice": "31000"}
    ok = buyer_bot.call("POST", "order", {**stop, "newOrderRespType": "RESULT"})
    assert ok.status_code == 200, ok.json()
    assert ok.json()["type"] == "STOP_LOSS"
    assert ok.json()["stopPrice"] == "31000"
    # A buy stop at or below the last price (30000) would trigger at once: Binance refuses it.
    before = Order.objects.filter(user=buyer).count()
    refused = buyer_bot.call("POST", "order", {**stop, "stopPrice": "30000", "newOrderRespType": "RESULT"})
    match_and_settle(market)
    if refused.status_code == 400:
        assert_binance_error(refused, -2010, 400)
        assert refused.json()["msg"] == "Order would trigger immediately."
    else:  # refused by the matcher instead of at placement: the order is REJECTED, never triggered
        rejected = Order.objects.exclude(pk=ok.json()["orderId"]).filter(user=buyer, type="stop_market").get()
        assert (rejected.status, rejected.reject_reason) == (Order.Status.REJECTED, "stop_would_trigger")
    assert Order.objects.filter(user=buyer, triggered_at__isnull=False).count() == 0
    assert Order.objects.filter(user=buyer).count() in (before, before + 1)


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        ({"type": "TAKE_PROFIT"}, -2010, "Take profit orders are not supported"),
        ({"type": "TAKE_PROFIT_LIMIT"}, -2010, "Take profit limit orders are not supported"),
        ({"stopPrice": None}, -1102, "stopPrice"),
        ({"timeInForce": None}, -1102, "timeInForce"),
        ({"price": None}, -1102, "price"),
        ({"stopPrice": "-1"}, -1100, "stopPrice"),
        ({"stopPrice": "1e5"}, -1100, "stopPrice"),
        ({"stopPrice": "29000.001"}, -1013, "PRICE_FILTER"),
        ({"trailingDelta": "100"}, -1106, "trailingDelta"),
        ({"icebergQty": "0.1"}, -1106, "icebergQty"),
        ({"timeInForce": "GTD"}, -1115, "timeInForce"),
        ({"quantity": "100"}, -2010, "insufficient balance"),
    ],
)
def test_refused_stop_orders_write_nothing(market, bots, params, code, needle):
    seller_bot, _, seller, _ = bots
    before = Order.objects.filter(user=seller).count()
    body = {k: v for k, v in {**_stop_limit("SELL", "29000", "28900", "0.1"), **params}.items() if v is not None}
    resp = seller_bot.call("POST", "order", body)
    assert_binance_error(resp, code, 400)
    assert needle.lower() in resp.json()["msg"].lower()
    assert Order.objects.filter(user=seller).count() == before


def test_stop_loss_parameter_rules(market, bots):
    seller_bot, _, seller, _ = bots
    before = Order.objects.filter(user=seller).count()
    stop = {"symbol": SYMBOL, "side": "SELL", "type": "STOP_LOSS", "quantity": "0.1", "stopPrice": "29000"}
    assert_binance_error(seller_bot.call("POST", "order", {**stop, "price": "29000"}), -1106)
    assert_binance_error(seller_bot.call("POST", "order", {**stop, "timeInForce": "GTC"}), -1106)
    assert_binance_error(seller_bot.call("POST", "order", {k: v for k, v in stop.items() if k != "quantity"}), -1102)
    assert_binance_error(seller_bot.call("POST", "order", {**stop, "quoteOrderQty": "100"}), -1106)
    assert_binance_error(seller_bot.call("POST", "order", {**_limit("SELL", "31000", "0.1"), "stopPrice": "1"}), -1106)
    assert Order.objects.filter(user=seller).count() == before


def test_order_test_takes_stop_orders_without_placing(market, bots):
    seller_bot, _, seller, _ = bots
    before = Order.objects.filter(user=seller).count()
    assert seller_bot.call("POST", "order/test", _stop_limit("SELL", "29000", "28900", "0.1")).json() == {}
    assert_binance_error(
        seller_bot.call("POST", "order/test", _stop_limit("SELL", "29000", "28900.001", "0.1")), -1013, 400
    )
    assert Order.objects.filter(user=seller).count() == before


def test_oco_placed_listed_and_canceled(market, bots):
    seller_bot, _, seller, _ = bots
    resp = seller_bot.call("POST", "orderList/oco", _oco_sell(listClientOrderId="my-oco"))
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["contingencyType"] == "OCO"
    assert body["listClientOrderId"] == "my-oco"
    assert (body["listStatusType"], body["listOrderStatus"]) == ("EXEC_STARTED", "EXECUTING")
    assert body["symbol"] == SYMBOL
    assert len(body["orders"]) == len(body["orderReports"]) == 2
    list_id = body["orderListId"]
    reports = {r["type"]: r for r in body["orderReports"]}
    assert set(reports) == {"LIMIT", "STOP_LOSS_LIMIT"} or set(reports) == {"LIMIT_MAKER", "STOP_LOSS_LIMIT"}
    stop_leg = reports["STOP_LOSS_LIMIT"]
    assert (stop_leg["stopPrice"], stop_leg["price"], stop_leg["origQty"]) == ("29000", "28900", "0.5")
    assert all(r["orderListId"] == list_id for r in body["orderReports"])
    assert OrderList.objects.get(pk=list_id).user_id == seller.pk
    match_and_settle(market)

    by_id = seller_bot.call("GET", "orderList", {"orderListId": list_id}).json()
    by_client = seller_bot.call("GET", "orderList", {"origClientOrderId": "my-oco"}).json()
    assert by_id == by_client
    assert [o["orderId"] for o in by_id["orders"]] == sorted(o["orderId"] for o in body["orders"])
    assert "orderReports" not in by_id
    assert [x["orderListId"] for x in seller_bot.call("GET", "openOrderList").json()] == [list_id]
    assert [x["orderListId"] for x in seller_bot.call("GET", "allOrderList").json()] == [list_id]
    leg = _get(seller_bot, stop_leg["orderId"])
    assert (leg["orderListId"], leg["stopPrice"], leg["isWorking"]) == (list_id, "29000", False)

    canceled = seller_bot.call("DELETE", "orderList", {"symbol": SYMBOL, "orderListId": list_id})
    assert canceled.status_code == 200, canceled.json()
    assert len(canceled.json()["orderReports"]) == 2
    match_and_settle(market)
    done = seller_bot.call("GET", "orderList", {"orderListId": list_id}).json()
    assert (done["listStatusType"], done["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert seller_bot.call("GET", "openOrderList").json() == []
    assert {o.status for o in Order.objects.filter(order_list_id=list_id)} == {Order.Status.CANCELED}
    assert_binance_error(seller_bot.call("DELETE", "orderList", {"symbol": SYMBOL, "orderListId": list_id}), -2011)


def test_oco_limit_leg_fill_cancels_the_stop_leg(market, bots):
    seller_bot, buyer_bot, seller, _ = bots
    body = seller_bot.call("POST", "orderList/oco", _oco_sell()).json()
    match_and_settle(market)
    buyer_bot.call("POST", "order", _limit("BUY", "32000", "0.2"))
    match_and_settle(market)
    match_and_settle(market)
    legs = {o.type: o for o in Order.objects.filter(order_list_id=body["orderListId"])}
    assert legs["limit"].filled_quantity == Decimal("0.2")
    # As on Binance, the other leg of a filled OCO expires.
    assert (legs["stop_limit"].status, legs["stop_limit"].cancel_reason) == (Order.Status.EXPIRED, "oco_other_leg")
    assert legs["stop_limit"].triggered_at is None
    stop_leg = _get(seller_bot, legs["stop_limit"].pk)
    assert stop_leg["status"] == "EXPIRED"
    done = seller_bot.call("GET", "orderList", {"orderListId": body["orderListId"]}).json()
    assert done["listOrderStatus"] == "ALL_DONE"
    fills = seller_bot.call("GET", "myTrades", {"symbol": SYMBOL}).json()
    leg_fills = [f for f in fills if f["orderId"] == legs["limit"].pk]
    assert [f["orderListId"] for f in leg_fills] == [body["orderListId"]]
    assert {f["orderListId"] for f in fills if f["orderId"] != legs["limit"].pk} == {-1}


def test_deprecated_order_oco_buy(market, bots):
    _, buyer_bot, buyer, _ = bots
    params = {"symbol": SYMBOL, "side": "BUY", "quantity": "0.1", "price": "28000", "stopPrice": "31000"}
    resp = buyer_bot.call("POST", "order/oco", {**params, "stopLimitPrice": "31100", "stopLimitTimeInForce": "GTC"})
    assert resp.status_code == 200, resp.json()
    types = sorted(r["type"] for r in resp.json()["orderReports"])
    assert types in (["LIMIT", "STOP_LOSS_LIMIT"], ["LIMIT_MAKER", "STOP_LOSS_LIMIT"])
    market_stop = buyer_bot.call("POST", "order/oco", {**params, "newOrderRespType": "ACK"})
    assert market_stop.status_code == 200, market_stop.json()
    assert "STOP_LOSS" in [r["type"] for r in market_stop.json()["orderReports"]]
    assert_binance_error(buyer_bot.call("POST", "order/oco", {**params, "price": "32000"}), -2010)
    assert_binance_error(buyer_bot.call("POST", "order/oco", {**params, "stopLimitPrice": "31100"}), -1102)
    assert_binance_error(buyer_bot.call("POST", "order/oco", {**params, "stopLimitTimeInForce": "GTC"}), -1106)
    assert_binance_error(buyer_bot.call("POST", "order/oco", {**params, "limitClientOrderId": "x"}), -1106)
    assert OrderList.objects.count() == 2


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        (
            {"belowType": "LIMIT_MAKER", "belowPrice": "28900", "belowStopPrice": None, "belowTimeInForce": None},
            -1168,
            "",
        ),
        ({"aboveType": "TAKE_PROFIT_LIMIT"}, -1158, "not supported"),
        ({"belowType": "TAKE_PROFIT"}, -1158, "not supported"),
        ({"aboveType": "MARKET"}, -1116, "orderType"),
        (
            {
                "aboveType": "STOP_LOSS",
                "aboveStopPrice": "33000",
                "abovePrice": None,
                "belowType": "LIMIT_MAKER",
                "belowPrice": "28000",
                "belowStopPrice": None,
                "belowTimeInForce": None,
            },
            -1166,
            "sell oco must be above",
        ),
        ({"side": "BUY"}, -1165, "buy oco must be below"),
        ({"abovePrice": "28000"}, -2010, "relationship of the prices"),
        ({"belowStopPrice": "31000", "belowPrice": "31000"}, -2010, "relationship of the prices"),
        ({"quantity": None}, -1102, "quantity"),
        ({"belowStopPrice": None}, -1102, "belowStopPrice"),
        ({"belowTimeInForce": None}, -1102, "belowTimeInForce"),
        ({"belowTimeInForce": "IOC"}, -2010, "Unsupported order combination"),
        ({"aboveClientOrderId": "leg-1"}, -1106, "aboveClientOrderId"),
        ({"belowIcebergQty": "1"}, -1106, "belowIcebergQty"),
        ({"aboveTrailingDelta": "10"}, -1106, "aboveTrailingDelta"),
        ({"aboveTimeInForce": "GTC"}, -1106, "aboveTimeInForce"),
        ({"selfTradePreventionMode": "EXPIRE_MAKER"}, -1013, "self-trade"),
        ({"listClientOrderId": "bad id!"}, -1100, "listClientOrderId"),
        ({"quantity": "0.000001"}, -1013, "LOT_SIZE"),
        ({"abovePrice": "32000.001"}, -1013, "PRICE_FILTER"),
        ({"quantity": "50"}, -2010, "insufficient balance"),
        ({"symbol": "ETHBTC"}, -1121, "symbol"),
    ],
)
def test_refused_ocos_write_nothing(market, bots, params, code, needle):
    seller_bot, _, seller, _ = bots
    orders = Order.objects.count()
    body = {k: v for k, v in {**_oco_sell(), **params}.items() if v is not None}
    resp = seller_bot.call("POST", "orderList/oco", body)
    assert_binance_error(resp, code, 400)
    assert needle.lower() in resp.json()["msg"].lower()
    assert not OrderList.objects.exists()
    assert Order.objects.count() == orders


def test_oco_stop_leg_that_would_trigger_at_once_is_refused(market, bots):
    _, buyer_bot, _, _ = bots
    # A buy OCO's stop must be above the last price (30000).
    params = {"symbol": SYMBOL, "side": "BUY", "quantity": "0.1", "price": "28000", "stopPrice": "29000"}
    resp = buyer_bot.call("POST", "order/oco", params)
    match_and_settle(market)
    if resp.status_code == 400:
        assert_binance_error(resp, -2010, 400)
        assert "relationship of the prices" in resp.json()["msg"]
    assert not Order.objects.filter(order_list__isnull=False, triggered_at__isnull=False).exists()


def test_order_list_queries_and_parameter_rules(market, bots):
    seller_bot, _, _, _ = bots
    assert_binance_error(seller_bot.call("GET", "orderList"), -1102, 400)
    assert_binance_error(seller_bot.call("GET", "orderList", {"orderListId": "999999"}), -2013, 400)
    assert_binance_error(seller_bot.call("GET", "orderList", {"orderListId": "x"}), -1100, 400)
    assert_binance_error(seller_bot.call("GET", "orderList", {"origClientOrderId": "nope"}), -2013, 400)
    assert_binance_error(seller_bot.call("DELETE", "orderList", {"symbol": SYMBOL}), -1102, 400)
    assert_binance_error(seller_bot.call("DELETE", "orderList", {"orderListId": "1"}), -1102, 400)
    assert_binance_error(
        seller_bot.call("GET", "allOrderList", {"fromId": "1", "startTime": "1700000000000"}), -1128, 400
    )
    assert_binance_error(
        seller_bot.call("GET", "allOrderList", {"startTime": "1700000000000", "endTime": "1700090000000"}), -1127
    )
    assert_binance_error(seller_bot.call("GET", "allOrderList", {"limit": "1001"}), -1130, 400)
    first = seller_bot.call("POST", "orderList/oco", _oco_sell(listClientOrderId="a")).json()["orderListId"]
    second = seller_bot.call("POST", "orderList/oco", _oco_sell(listClientOrderId="b")).json()["orderListId"]
    every = seller_bot.call("GET", "allOrderList", {"limit": "1"}).json()
    assert [x["orderListId"] for x in every] == [second]
    assert [x["orderListId"] for x in seller_bot.call("GET", "allOrderList", {"fromId": first}).json()] == [
        first,
        second,
    ]
    # orderListId and listClientOrderId must name the same list.
    mismatch = {"symbol": SYMBOL, "orderListId": first, "listClientOrderId": "b"}
    assert_binance_error(seller_bot.call("DELETE", "orderList", mismatch), -2011, 400)


def test_order_lists_of_another_user_are_out_of_reach(market, bots):
    seller_bot, buyer_bot, _, _ = bots
    list_id = seller_bot.call("POST", "orderList/oco", _oco_sell()).json()["orderListId"]
    match_and_settle(market)
    assert_binance_error(buyer_bot.call("GET", "orderList", {"orderListId": list_id}), -2013, 400)
    assert_binance_error(buyer_bot.call("DELETE", "orderList", {"symbol": SYMBOL, "orderListId": list_id}), -2011)
    assert buyer_bot.call("GET", "openOrderList").json() == []
    assert buyer_bot.call("GET", "allOrderList").json() == []
    assert OrderList.objects.get(pk=list_id).status == OrderList.Status.ACTIVE
    assert not Order.objects.filter(order_list_id=list_id, cancel_requested_at__isnull=False).exists()


def test_read_only_keys_read_lists_but_cannot_place_cancel_or_amend(market, bots):
    seller_bot, _, seller, _ = bots
    list_id = seller_bot.call("POST", "orderList/oco", _oco_sell()).json()["orderListId"]
    order_id = seller_bot.call("POST", "order", _limit("SELL", "35000", "0.2")).json()["orderId"]
    match_and_settle(market)
    reader = hmac_bot(seller, permissions=("read",))[0]
    assert reader.call("GET", "orderList", {"orderListId": list_id}).status_code == 200
    assert reader.call("GET", "openOrderList").status_code == 200
    assert reader.call("GET", "allOrderList").status_code == 200
    assert_binance_error(reader.call("POST", "orderList/oco", _oco_sell()), -2015, 401)
    assert_binance_error(reader.call("POST", "order/oco", _oco_sell()), -2015, 401)
    assert_binance_error(reader.call("DELETE", "orderList", {"symbol": SYMBOL, "orderListId": list_id}), -2015, 401)
    amend = {"symbol": SYMBOL, "orderId": order_id, "newQty": "0.1"}
    assert_binance_error(reader.call("PUT", "order/amend/keepPriority", amend), -2015, 401)
    assert_binance_error(reader.call("POST", "order", _stop_limit("SELL", "29000", "28900", "0.1")), -2015, 401)
    unsigned = Bot(api_key="").call("GET", "openOrderList", signed=False)
    assert_binance_error(unsigned, -2014, 401)
    assert OrderList.objects.count() == 1
    assert Order.objects.get(pk=order_id).quantity == Decimal("0.2")


def test_amend_keep_priority_lowers_quantity_and_keeps_the_queue_place(market, bots):
    seller_bot, buyer_bot, seller, _ = bots
    first = seller_bot.call("POST", "order", _limit("SELL", "31000", "0.3", newClientOrderId="first")).json()
    second = seller_bot.call("POST", "order", _limit("SELL", "31000", "0.3")).json()
    match_and_settle(market)
    params = {"symbol": SYMBOL, "orderId": first["orderId"], "newQty": "0.2"}
    resp = seller_bot.call("PUT", "order/amend/keepPriority", {**params, "newClientOrderId": "first"})
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert set(body) == {"transactTime", "executionId", "amendedOrder"}
    amended = body["amendedOrder"]
    assert (amended["orderId"], amended["origClientOrderId"], amended["clientOrderId"]) == (
        first["orderId"],
        "first",
        "first",
    )
    assert {"qty", "executedQty", "preventedQty", "cumulativeQuoteQty", "status", "type"} <= set(amended)
    match_and_settle(market)
    got = _get(seller_bot, first["orderId"])
    assert got["origQty"] == "0.2"
    assert Order.objects.get(pk=first["orderId"]).amended_at is not None

    buyer_bot.call("POST", "order", _limit("BUY", "31000", "0.2"))
    match_and_settle(market)
    # The amended order kept its place: it fills before the later one at the same price.
    assert _get(seller_bot, first["orderId"])["status"] == "FILLED"
    assert _get(seller_bot, second["orderId"])["executedQty"] == "0"


def test_amend_refusals(market, bots):
    seller_bot, _, seller, _ = bots
    order_id = seller_bot.call("POST", "order", _limit("SELL", "31000", "0.3")).json()["orderId"]
    match_and_settle(market)
    base = {"symbol": SYMBOL, "orderId": order_id}
    cases = [
        ({"newQty": "0.4"}, -2038, "quantity increase"),
        ({"newQty": "0.3"}, -2038, "would change no state"),
        ({}, -1102, "newQty"),
        ({"newQty": "abc"}, -1100, "newQty"),
        ({"newQty": "0"}, -1130, "newQty"),
        ({"newQty": ""}, -1105, "newQty"),
        ({"newQty": "0.1", "newClientOrderId": "other"}, -2038, "client order id"),
        ({"newQty": "0.000001"}, -1013, "LOT_SIZE"),
        ({"orderId": "999999", "newQty": "0.1"}, -2013, "does not exist"),
        ({"orderId": None, "newQty": "0.1"}, -1102, "orderId"),
        ({"symbol": "ETHBTC", "newQty": "0.1"}, -1121, "symbol"),
    ]
    for params, code, needle in cases:
        body = {k: v for k, v in {**base, **params}.items() if v is not None}
        resp = seller_bot.call("PUT", "order/amend/keepPriority", body)
        assert_binance_error(resp, code, 400)
        assert needle.lower() in resp.json()["msg"].lower(), (params, resp.json())
    match_and_settle(market)
    order = Order.objects.get(pk=order_id)
    assert (order.quantity, order.amended_at) == (Decimal("0.3"), None)
    seller_bot.call("DELETE", "order", {"symbol": SYMBOL, "orderId": order_id})
    match_and_settle(market)
    closed = seller_bot.call("PUT", "order/amend/keepPriority", {**base, "newQty": "0.1"})
    assert_binance_error(closed, -2038, 400)
    assert Order.objects.get(pk=order_id).quantity == Decimal("0.3")
