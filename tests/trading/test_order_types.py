"""Stop-limit, stop-market, OCO, GTD and amend through REST, the real matcher and settlement, to the cent."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone

from markets.models import Order, OrderList, Trade
from tests.factories import UserFactory, fund, match_and_settle
from tests.trading.helpers import balance, place, post_order

pytestmark = pytest.mark.django_db


def _last_price(market, auth_client, price: str) -> None:
    """Two bystanders trade 0.01 at ``price``: the market's last trade price."""
    buyer, seller = UserFactory(), UserFactory()
    fund(buyer, market.quote, "10000")
    fund(seller, market.base, "1")
    place(auth_client(seller), side="sell", type="limit", price=price, quantity="0.01")
    match_and_settle(market)
    place(auth_client(buyer), side="buy", type="limit", price=price, quantity="0.01")
    match_and_settle(market)


def _order(client, order_id: int) -> dict:
    response = client.get(f"/api/v1/orders/{order_id}")
    assert response.status_code == 200
    return response.json()


def _audit_ok() -> None:
    call_command("audit_ledger")  # raises SystemExit on a finding


def test_stop_limit_waits_triggers_fills_and_cancels_with_exact_balances(market, traders, make_trader, auth_client):
    alice, bob, ca, cb = traders
    carol = make_trader()
    fund(carol, market.base, "10")
    _last_price(market, auth_client, "30000")

    refused = post_order(cb, side="sell", type="stop_limit", price="29900", quantity="0.5", stop_price="30000")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "stop_would_trigger"

    stop = place(cb, side="sell", type="stop_limit", price="28900", quantity="0.5", stop_price="29000")
    assert (stop["status"], stop["stop_price"], stop["triggered_at"]) == ("new", "29000", None)
    assert balance(bob, market.base) == (D("10"), D("0.5"))  # locked exactly like a limit sell
    match_and_settle(market)
    assert _order(cb, stop["id"])["status"] == "untriggered"
    listed = cb.get("/api/v1/orders", {"status": "open"}).json()["results"]
    assert [o["id"] for o in listed] == [stop["id"]]

    place(ca, side="buy", type="limit", price="29000", quantity="0.3")
    match_and_settle(market)
    place(auth_client(carol), side="sell", type="limit", price="29000", quantity="0.1")
    match_and_settle(market)  # carol trades at 29000: bob's stop triggers and sells 0.2 more to alice

    mine = _order(cb, stop["id"])
    assert mine["status"] == "partially_filled"
    assert mine["triggered_at"] is not None
    assert mine["filled_quantity"] == "0.2"
    trade = Trade.objects.get(taker_order_id=stop["id"])
    assert (trade.price, trade.quantity, trade.taker_fee, trade.maker_fee) == (
        D("29000"),
        D("0.2"),
        D("11.6"),
        D("0.0002"),
    )
    assert balance(bob, market.base) == (D("9.8"), D("0.3"))
    assert balance(bob, market.quote) == (D("5788.4"), D("0"))
    assert balance(alice, market.quote) == (D("91300"), D("0"))
    assert balance(alice, market.base) == (D("0.2997"), D("0"))
    assert balance(carol, market.quote) == (D("2894.2"), D("0"))

    assert cb.delete(f"/api/v1/orders/{stop['id']}").status_code == 202
    match_and_settle(market)
    assert _order(cb, stop["id"])["status"] == "canceled"
    assert balance(bob, market.base) == (D("9.8"), D("0"))
    _audit_ok()


def test_untriggered_stop_cancels_and_releases_its_lock(market, traders, auth_client):
    alice, _, ca, _ = traders
    _last_price(market, auth_client, "30000")
    stop = place(ca, side="buy", type="stop_limit", price="31100", quantity="0.5", stop_price="31000")
    assert balance(alice, market.quote) == (D("100000"), D("15550"))
    match_and_settle(market)
    assert ca.delete(f"/api/v1/orders/{stop['id']}").status_code == 202
    match_and_settle(market)
    order = Order.objects.get(pk=stop["id"])
    assert (order.status, order.triggered_at, order.cancel_reason) == ("canceled", None, "user")
    assert balance(alice, market.quote) == (D("100000"), D("0"))
    _audit_ok()


def test_stop_market_sell_triggers_into_the_bids(market, traders, auth_client):
    alice, bob, ca, cb = traders
    _last_price(market, auth_client, "30000")
    stop = place(cb, side="sell", type="stop_market", quantity="0.5", stop_price="29500")
    place(ca, side="buy", type="limit", price="29000", quantity="0.5")
    match_and_settle(market)
    assert _order(cb, stop["id"])["status"] == "untriggered"
    _last_price(market, auth_client, "29400")
    mine = _order(cb, stop["id"])
    assert (mine["status"], mine["filled_quantity"], mine["average_price"]) == ("filled", "0.5", "29000")
    assert balance(bob, market.base) == (D("9.5"), D("0"))
    assert balance(bob, market.quote) == (D("14471"), D("0"))  # 14500 - 0.2% taker fee
    assert balance(alice, market.base) == (D("0.4995"), D("0"))
    _audit_ok()


def test_trigger_immediately_enters_at_once(market, traders, auth_client):
    _, bob, ca, cb = traders
    _last_price(market, auth_client, "30000")
    place(ca, side="buy", type="limit", price="30000", quantity="0.1")
    stop = place(
        cb, side="sell", type="stop_limit", price="30000", quantity="0.1", stop_price="30000", trigger_immediately=True
    )
    match_and_settle(market)
    mine = _order(cb, stop["id"])
    assert (mine["status"], mine["triggered_at"] is not None) == ("filled", True)
    assert balance(bob, market.base) == (D("9.9"), D("0"))


def test_oco_limit_leg_partly_filled_cancels_the_stop_leg(market, traders, auth_client):
    alice, bob, ca, cb = traders
    _last_price(market, auth_client, "30000")
    answer = cb.post(
        "/api/v1/order-lists/oco",
        {
            "market": "BTC-USDT",
            "side": "sell",
            "quantity": "0.5",
            "price": "31000",
            "stop_price": "29000",
            "stop_limit_price": "28900",
            "client_order_id": "oco-1",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    listed = answer.json()
    limit_leg, stop_leg = listed["orders"]
    assert (listed["status"], limit_leg["type"], stop_leg["type"]) == ("active", "limit", "stop_limit")
    assert limit_leg["order_list_id"] == stop_leg["order_list_id"] == listed["id"]
    assert balance(bob, market.base) == (D("10"), D("0.5"))  # one lock for both legs
    match_and_settle(market)
    got = cb.get(f"/api/v1/order-lists/{listed['id']}").json()
    assert [o["status"] for o in got["orders"]] == ["open", "untriggered"]

    place(ca, side="buy", type="limit", price="31000", quantity="0.2")
    match_and_settle(market)
    got = cb.get(f"/api/v1/order-lists/{listed['id']}").json()
    assert got["status"] == "done"
    assert [o["status"] for o in got["orders"]] == ["partially_filled", "expired"]
    assert got["orders"][1]["cancel_reason"] == "oco_other_leg"
    assert balance(bob, market.base) == (D("9.8"), D("0.3"))
    assert balance(bob, market.quote) == (D("6193.8"), D("0"))
    assert balance(alice, market.base) == (D("0.1996"), D("0"))
    # A retry with the same client id answers the same list.
    again = cb.post(
        "/api/v1/order-lists/oco",
        {
            "market": "BTC-USDT",
            "side": "sell",
            "quantity": "0.5",
            "price": "31000",
            "stop_price": "29000",
            "stop_limit_price": "28900",
            "client_order_id": "oco-1",
        },
        format="json",
    )
    assert (again.status_code, again.json()["id"]) == (200, listed["id"])
    _audit_ok()


def test_oco_stop_leg_triggers_takes_the_limit_leg_away_and_carries_the_lock(market, traders, auth_client):
    alice, bob, ca, cb = traders
    _last_price(market, auth_client, "30000")
    body = {"market": "BTC-USDT", "side": "sell", "quantity": "0.5", "price": "31000", "stop_price": "29000"}
    listed = cb.post("/api/v1/order-lists/oco", body, format="json").json()
    place(ca, side="buy", type="limit", price="28000", quantity="0.5")
    match_and_settle(market)
    _last_price(market, auth_client, "28990")
    got = cb.get(f"/api/v1/order-lists/{listed['id']}").json()
    assert got["status"] == "done"
    limit_leg, stop_leg = got["orders"]
    assert (limit_leg["status"], limit_leg["cancel_reason"]) == ("expired", "oco_other_leg")
    assert (stop_leg["status"], stop_leg["filled_quantity"]) == ("filled", "0.5")
    assert Order.objects.get(pk=limit_leg["id"]).locked_amount == 0
    assert balance(bob, market.base) == (D("9.5"), D("0"))
    assert balance(bob, market.quote) == (D("13972"), D("0"))  # 14000 at 28000, 0.2% taker fee
    assert balance(alice, market.base) == (D("0.4995"), D("0"))
    _audit_ok()


def test_oco_buy_locks_the_larger_leg_and_delete_cancels_both(market, traders, auth_client):
    alice, _, ca, _ = traders
    _last_price(market, auth_client, "30000")
    body = {
        "market": "BTC-USDT",
        "side": "buy",
        "quantity": "0.5",
        "price": "29000",
        "stop_price": "31000",
        "stop_limit_price": "31100",
    }
    listed = ca.post("/api/v1/order-lists/oco", body, format="json").json()
    assert balance(alice, market.quote) == (D("100000"), D("15550"))  # 31100 x 0.5, not the sum
    match_and_settle(market)
    assert ca.delete(f"/api/v1/order-lists/{listed['id']}").status_code == 202
    match_and_settle(market)
    got = ca.get(f"/api/v1/order-lists/{listed['id']}").json()
    assert got["status"] == "done"
    assert [o["status"] for o in got["orders"]] == ["canceled", "canceled"]
    assert balance(alice, market.quote) == (D("100000"), D("0"))
    assert ca.delete(f"/api/v1/order-lists/{listed['id']}").status_code == 409
    assert OrderList.objects.get().status == "done"
    _audit_ok()


def test_gtd_order_expires_and_releases_its_lock(market, traders):
    _, bob, _, cb = traders
    expire = timezone.now() + timedelta(seconds=1)
    gtd = {"time_in_force": "GTD", "expire_time": expire.isoformat()}
    order = place(cb, side="sell", type="limit", price="31000", quantity="0.5", **gtd)
    assert order["expire_time"] is not None
    match_and_settle(market)
    assert _order(cb, order["id"])["status"] == "open"
    time.sleep(max(0.0, (expire - timezone.now()).total_seconds()) + 0.05)
    match_and_settle(market)  # an otherwise idle batch expires it
    mine = _order(cb, order["id"])
    assert (mine["status"], mine["cancel_reason"]) == ("expired", "expired")
    assert balance(bob, market.base) == (D("10"), D("0"))
    _audit_ok()


def test_amend_down_keeps_priority_and_up_loses_it(market, traders, make_trader, auth_client, settings):
    settings.AMEND_WAIT_SECONDS = 0  # no matcher runs during the request here: answered as pending
    alice, bob, ca, cb = traders
    carol = make_trader()
    fund(carol, market.base, "10")
    first = place(cb, side="sell", type="limit", price="31000", quantity="1")
    second = place(auth_client(carol), side="sell", type="limit", price="31000", quantity="1")
    match_and_settle(market)

    pending = cb.patch(f"/api/v1/orders/{first['id']}", {"quantity": "0.6"}, format="json")
    assert pending.status_code == 202
    assert cb.patch(f"/api/v1/orders/{first['id']}", {"quantity": "0.5"}, format="json").status_code == 409
    match_and_settle(market)
    amended = Order.objects.get(pk=first["id"])
    assert (amended.quantity, amended.amended_at is not None, amended.amend_requested_at) == (D("0.6"), True, None)
    place(ca, side="buy", type="limit", price="31000", quantity="0.3")
    match_and_settle(market)
    assert Trade.objects.get().maker_order_id == first["id"]  # still first in the queue

    assert cb.patch(f"/api/v1/orders/{first['id']}", {"quantity": "0.8"}, format="json").status_code == 202
    assert balance(bob, market.base) == (D("9.7"), D("0.7"))  # the lock (1) already covers 0.8
    match_and_settle(market)
    place(ca, side="buy", type="limit", price="31000", quantity="0.3")
    match_and_settle(market)
    assert Trade.objects.order_by("id").last().maker_order_id == second["id"]  # lost its place
    assert _order(cb, first["id"])["quantity"] == "0.8"
    assert balance(alice, market.quote) == (D("81400"), D("0"))
    assert cb.delete(f"/api/v1/orders/{first['id']}").status_code == 202
    match_and_settle(market)
    assert balance(bob, market.base) == (D("9.7"), D("0"))
    assert cb.patch(f"/api/v1/orders/{first['id']}", {"quantity": "0.9"}, format="json").status_code == 409
    _audit_ok()


def test_amend_price_across_the_book_trades(market, traders, settings):
    settings.AMEND_WAIT_SECONDS = 0
    alice, bob, ca, cb = traders
    bid = place(ca, side="buy", type="limit", price="29000", quantity="0.2")
    place(cb, side="sell", type="limit", price="30000", quantity="0.5")
    match_and_settle(market)
    assert ca.patch(f"/api/v1/orders/{bid['id']}", {"price": "30000"}, format="json").status_code == 202
    assert balance(alice, market.quote) == (D("100000"), D("6000"))
    match_and_settle(market)
    mine = _order(ca, bid["id"])
    assert (mine["status"], mine["price"], mine["filled_quantity"]) == ("filled", "30000", "0.2")
    assert balance(alice, market.quote) == (D("94000"), D("0"))
    assert balance(alice, market.base) == (D("0.1996"), D("0"))
    assert balance(bob, market.quote) == (D("5994"), D("0"))
    _audit_ok()
