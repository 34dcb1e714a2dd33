"""Hostile input and access control for the order types of issue 14: stops, GTD, OCO lists and amend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from markets.models import Order, OrderList
from tests.factories import UserFactory, fund, match_and_settle
from tests.trading.helpers import balance, place, post_order

pytestmark = pytest.mark.django_db

OCO = {"market": "BTC-USDT", "side": "sell", "quantity": "0.5", "price": "31000", "stop_price": "29000"}


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_new_endpoints_need_authentication(market):
    client = APIClient()
    assert client.post("/api/v1/order-lists/oco", OCO, format="json").status_code == 401
    assert client.get("/api/v1/order-lists/1").status_code == 401
    assert client.delete("/api/v1/order-lists/1").status_code == 401
    assert client.patch("/api/v1/orders/1", {"quantity": "1"}, format="json").status_code == 401


def test_another_users_list_and_order_are_not_found(market, traders, settings):
    settings.AMEND_WAIT_SECONDS = 0
    alice, bob, ca, cb = traders
    listed = cb.post("/api/v1/order-lists/oco", OCO, format="json").json()
    order = place(cb, side="sell", type="limit", price="32000", quantity="0.1")
    match_and_settle(market)
    for response in (
        ca.get(f"/api/v1/order-lists/{listed['id']}"),
        ca.delete(f"/api/v1/order-lists/{listed['id']}"),
        ca.patch(f"/api/v1/orders/{order['id']}", {"quantity": "0.05"}, format="json"),
        ca.get("/api/v1/order-lists/999999999"),
        ca.delete(f"/api/v1/order-lists/{2**63}"),
        ca.patch(f"/api/v1/orders/{2**63}", {"quantity": "1"}, format="json"),
    ):
        assert response.status_code == 404, response.content
        assert _code(response) == "not_found"
    assert OrderList.objects.get().status == "active"
    assert Order.objects.get(pk=order["id"]).amend_requested_at is None
    assert balance(bob, market.base) == (D("10"), D("0.6"))


STOP = {"side": "sell", "type": "stop_limit", "price": "28900", "quantity": "0.5", "stop_price": "29000"}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"stop_price": None}, "validation_error"),
        ({"stop_price": "0"}, "invalid_price"),
        ({"stop_price": "-5"}, "invalid_price"),
        ({"stop_price": "29000.001"}, "invalid_price"),
        ({"stop_price": "NaN"}, "invalid_price"),
        ({"stop_price": "1e400"}, "invalid_price"),
        ({"stop_price": ["1"]}, "invalid_price"),
        ({"type": "limit"}, "validation_error"),  # a stop_price on a limit order
        ({"post_only": True}, "validation_error"),
        ({"type": "stop_market", "price": None, "time_in_force": "FOK"}, "validation_error"),
        ({"type": "stop_market"}, "validation_error"),  # a price on a stop-market order
        ({"trigger_immediately": "maybe"}, "validation_error"),
        ({"time_in_force": "GTD"}, "validation_error"),  # no expire_time
        ({"time_in_force": "GTD", "expire_time": "2001-01-01T00:00:00Z"}, "validation_error"),
        ({"time_in_force": "GTD", "expire_time": "tomorrow"}, "validation_error"),
        ({"time_in_force": "GTD", "expire_time": 12345}, "validation_error"),
        ({"expire_time": "2999-01-01T00:00:00Z"}, "validation_error"),  # expire_time without GTD
        ({"type": "market", "price": None, "stop_price": None, "time_in_force": "GTD"}, "validation_error"),
    ],
)
def test_bad_stop_and_gtd_orders_answer_400_and_lock_nothing(market, traders, change, code):
    _, bob, _, cb = traders
    body = {**STOP, **change}
    if body.get("time_in_force") == "GTD" and "expire_time" not in body:
        body.pop("expire_time", None)
    response = post_order(cb, **{k: v for k, v in body.items() if v is not None or k == "stop_price"})
    assert response.status_code == 400, response.content
    assert _code(response) == code
    assert Order.objects.count() == 0
    assert balance(bob, market.base) == (D("10"), D("0"))


def test_a_gtd_order_in_the_future_and_a_gtd_stop_are_accepted(market, traders):
    _, _, _, cb = traders
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    place(cb, side="sell", type="limit", price="31000", quantity="0.1", time_in_force="GTD", expire_time=later)
    place(cb, **STOP, time_in_force="GTD", expire_time=later)
    match_and_settle(market)
    assert sorted(Order.objects.values_list("status", flat=True)) == ["open", "untriggered"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"quantity": "0"}, "invalid_quantity"),
        ({"quantity": "0.000001"}, "invalid_quantity"),
        ({"quantity": None}, "invalid_quantity"),
        ({"price": "31000.001"}, "invalid_price"),
        ({"price": "-1"}, "invalid_price"),
        ({"stop_price": None}, "invalid_price"),
        ({"stop_price": "abc"}, "invalid_price"),
        ({"stop_limit_price": "0"}, "invalid_price"),
        ({"side": "up"}, "validation_error"),
        ({"market": "NOPE-USDT"}, "validation_error"),
        ({"market": 7}, "validation_error"),
        ({"client_order_id": "no spaces allowed"}, "validation_error"),
        ({"stop_price": "30000"}, "stop_would_trigger"),  # the last price is 30000
        ({"quantity": "50"}, "insufficient_funds"),
    ],
)
def test_bad_oco_lists_answer_400_and_lock_nothing(market, traders, auth_client, change, code):
    _, bob, _, cb = traders
    seller, buyer = UserFactory(), UserFactory()
    fund(seller, market.base, "1")
    fund(buyer, market.quote, "1000")
    place(auth_client(seller), side="sell", type="limit", price="30000", quantity="0.01")
    place(auth_client(buyer), side="buy", type="limit", price="30000", quantity="0.01")
    match_and_settle(market)
    body = {k: v for k, v in {**OCO, **change}.items() if v is not None}
    response = cb.post("/api/v1/order-lists/oco", body, format="json")
    assert response.status_code == 400, response.content
    assert _code(response) == code
    assert OrderList.objects.count() == 0
    assert balance(bob, market.base) == (D("10"), D("0"))


def test_oco_body_must_be_an_object(market, traders):
    _, _, _, cb = traders
    response = cb.post("/api/v1/order-lists/oco", [OCO], format="json")
    assert (response.status_code, _code(response)) == (400, "validation_error")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"quantity": None, "price": None}, "validation_error"),
        ({"quantity": "0"}, "invalid_quantity"),
        ({"quantity": "-1"}, "invalid_quantity"),
        ({"quantity": "0.1"}, "invalid_quantity"),  # not more than what is filled
        ({"quantity": "0.000001"}, "invalid_quantity"),
        ({"price": "31000.005"}, "invalid_price"),
        ({"price": "Infinity"}, "invalid_price"),
        ({"price": "0.5"}, "min_notional"),
        ({"quantity": "5000"}, "insufficient_funds"),
    ],
)
def test_bad_amends_answer_400_and_change_nothing(market, traders, settings, body, code):
    settings.AMEND_WAIT_SECONDS = 0
    alice, bob, ca, cb = traders
    order = place(cb, side="sell", type="limit", price="31000", quantity="1")
    match_and_settle(market)
    place(ca, side="buy", type="limit", price="31000", quantity="0.1")
    match_and_settle(market)
    before = balance(bob, market.base)
    response = cb.patch(f"/api/v1/orders/{order['id']}", body, format="json")
    assert response.status_code == 400, response.content
    assert _code(response) == code
    row = Order.objects.get(pk=order["id"])
    assert (row.quantity, row.price, row.amend_requested_at, row.amended_at) == (D("1"), D("31000"), None, None)
    assert balance(bob, market.base) == before


def test_amend_of_what_cannot_be_amended_answers_409(market, traders, auth_client, settings):
    settings.AMEND_WAIT_SECONDS = 0
    alice, bob, ca, cb = traders
    seller, buyer = UserFactory(), UserFactory()
    fund(seller, market.base, "1")
    fund(buyer, market.quote, "1000")
    place(auth_client(seller), side="sell", type="limit", price="30000", quantity="0.01")
    place(auth_client(buyer), side="buy", type="limit", price="30000", quantity="0.01")
    stop = place(cb, **STOP)
    listed = cb.post("/api/v1/order-lists/oco", {**OCO, "quantity": "0.1"}, format="json").json()
    resting = place(cb, side="sell", type="limit", price="33000", quantity="0.1")
    match_and_settle(market)
    canceled = place(cb, side="sell", type="limit", price="34000", quantity="0.1")
    cb.delete(f"/api/v1/orders/{canceled['id']}")
    match_and_settle(market)
    fresh = place(cb, side="sell", type="limit", price="35000", quantity="0.1")
    for order_id in (stop["id"], listed["orders"][0]["id"], listed["orders"][1]["id"], canceled["id"], fresh["id"]):
        response = cb.patch(f"/api/v1/orders/{order_id}", {"quantity": "0.05"}, format="json")
        assert response.status_code == 409, (order_id, response.content)
        assert _code(response) == "order_not_amendable"
    # fresh is still "new" (the matcher has not taken it); a resting order can be amended.
    assert cb.patch(f"/api/v1/orders/{resting['id']}", {"quantity": "0.05"}, format="json").status_code == 202
    assert Order.objects.filter(amend_requested_at__isnull=False).count() == 1
