"""Stops, OCO, GTD and amend on the real stack, across matcher SIGKILLs: nothing lost, nothing triggered twice."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from markets.models import Order, OrderList, Trade
from tools.waiting import wait_until

from .stack import wait_settled

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def _placed(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def _restart_matcher(stack) -> None:
    stack.kill("matcher")
    stack.start("matcher")


def test_stops_oco_and_gtd_survive_matcher_sigkills(stack, live_market, make_live_trader):
    market = live_market
    seller = make_live_trader(stack, market, base="10")
    buyer = make_live_trader(stack, market, quote="100000")
    crowd_buy = make_live_trader(stack, market, quote="10000")
    crowd_sell = make_live_trader(stack, market, base="1")
    _placed(crowd_sell.place(side="sell", type="limit", price="30000", quantity="0.01"))
    wait_settled(market)
    _placed(crowd_buy.place(side="buy", type="limit", price="30000", quantity="0.01"))
    wait_settled(market)  # last price 30000

    stop = _placed(seller.place(side="sell", type="stop_limit", price="28900", quantity="0.5", stop_price="29000"))
    oco = seller.http.post(
        "/api/v1/order-lists/oco",
        json={"market": "BTC-USDT", "side": "sell", "quantity": "0.5", "price": "31000", "stop_price": "29500"},
    )
    assert oco.status_code == 201, oco.text
    oco = oco.json()
    expire = timezone.now() + timedelta(seconds=12)
    gtd = _placed(
        seller.place(
            side="sell",
            type="limit",
            price="32000",
            quantity="0.2",
            time_in_force="GTD",
            expire_time=expire.isoformat(),
        )
    )
    buy_stop = _placed(buyer.place(side="buy", type="stop_limit", price="31600", quantity="0.1", stop_price="31500"))
    wait_settled(market)
    assert seller.order(stop["id"])["status"] == "untriggered"
    assert buyer.order(buy_stop["id"])["status"] == "untriggered"
    assert seller.balances()["BTC"] == (D("10"), D("1.2"))  # the OCO pair locks 0.5 once

    # Amend over HTTP with the matcher running: answered once applied, the surplus lock released.
    amended = seller.http.patch(f"/api/v1/orders/{gtd['id']}", json={"quantity": "0.1"})
    assert amended.status_code == 200, amended.text
    assert (amended.json()["quantity"], amended.json()["amended_at"] is not None) == ("0.1", True)
    assert seller.balances()["BTC"] == (D("10"), D("1.1"))

    _restart_matcher(stack)  # stops, the OCO link and the expiry rebuild from the database

    _placed(buyer.place(side="buy", type="limit", price="29000", quantity="0.3"))
    _placed(crowd_buy.place(side="buy", type="limit", price="29400", quantity="0.01"))
    wait_settled(market)
    _placed(crowd_sell.place(side="sell", type="limit", price="29400", quantity="0.01"))
    wait_settled(market)
    # 29400 crossed the OCO's stop leg (29500): a stop-market selling 0.5 into the 0.3 bid at 29000,
    # which crossed the stop-limit's 29000: it rests at 28900 with nothing left to buy.
    listed = seller.http.get(f"/api/v1/order-lists/{oco['id']}").json()
    limit_leg, stop_leg = listed["orders"]
    assert listed["status"] == "done"
    assert (limit_leg["status"], limit_leg["cancel_reason"]) == ("expired", "oco_other_leg")
    assert (stop_leg["status"], stop_leg["filled_quantity"], stop_leg["cancel_reason"]) == (
        "expired",
        "0.3",
        "no_liquidity",
    )
    triggered = seller.order(stop["id"])
    assert (triggered["status"], triggered["filled_quantity"]) == ("open", "0")
    assert triggered["triggered_at"] is not None
    trades_before = Trade.objects.count()

    _restart_matcher(stack)
    wait_until(lambda: seller.order(gtd["id"])["status"] == "expired", 30, what="the GTD order to expire")
    time.sleep(1)
    assert Trade.objects.count() == trades_before
    assert seller.order(stop["id"])["triggered_at"] == triggered["triggered_at"]  # not triggered twice
    assert buyer.order(buy_stop["id"])["status"] == "untriggered"
    _cancel_the_rest_and_check(stack, market, seller, buyer, stop, buy_stop)


def _cancel_the_rest_and_check(stack, market, seller, buyer, stop: dict, buy_stop: dict) -> None:
    assert seller.http.delete(f"/api/v1/orders/{stop['id']}").status_code == 202
    assert buyer.http.delete(f"/api/v1/orders/{buy_stop['id']}").status_code == 202
    wait_settled(market)
    assert seller.order(stop["id"])["status"] == "canceled"
    assert buyer.order(buy_stop["id"])["status"] == "canceled"
    assert seller.balances()["BTC"] == (D("9.7"), D("0"))
    assert seller.balances()["USDT"] == (D("8682.6"), D("0"))  # 8700 less the 0.2% taker fee
    assert buyer.balances()["USDT"] == (D("91300"), D("0"))
    assert buyer.balances()["BTC"] == (D("0.2997"), D("0"))
    assert OrderList.objects.get().status == "done"
    assert not Order.objects.filter(status__in=Order.OPEN_STATUSES, user=seller.user).exists()
    assert stack.manage("audit_ledger").returncode == 0
