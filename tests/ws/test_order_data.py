"""The publisher renders orders without DRF: its output must stay what ``OrderOut`` gives."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from markets.models import Order
from realtime.frames import iso_time, order_data, order_values
from tests.factories import MarketFactory, OrderFactory, UserFactory
from trading.serializers import OrderOut

pytestmark = pytest.mark.django_db

VARIANTS = [
    {},
    {"client_order_id": "bot-1:x", "post_only": True},
    {"type": Order.Type.MARKET, "price": None, "time_in_force": Order.TimeInForce.IOC},
    {"type": Order.Type.MARKET, "price": None, "quantity": None, "quote_quantity": D("250.5")},
    {"filled_quantity": D("0.3"), "filled_quote": D("30.123456"), "status": Order.Status.PARTIALLY_FILLED},
    {"filled_quantity": D("1"), "filled_quote": D("100.5"), "status": Order.Status.FILLED, "closed_sequence": 9},
    {"status": Order.Status.CANCELED, "cancel_reason": "user", "side": Order.Side.SELL},
    {"status": Order.Status.REJECTED, "reject_reason": "post_only_would_take"},
    {"self_trade_prevention": Order.SelfTradePrevention.CANCEL_BOTH, "price": D("0.000001")},
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_publisher_order_rendering_matches_the_rest_serializer(variant):
    market = MarketFactory()
    fields = {
        "market": market,
        "user": UserFactory(),
        "side": Order.Side.BUY,
        "type": Order.Type.LIMIT,
        "price": D("100.10"),
        "quantity": D("1.000"),
        "locked_amount": D("100.1"),
        **variant,
    }
    order = OrderFactory(**fields)
    # A microsecond-free time too: isoformat drops the fraction then.
    Order.objects.filter(pk=order.pk).update(updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    order = Order.objects.select_related("market").get(pk=order.pk)
    assert order_data(order_values(order), market.symbol) == dict(OrderOut(order).data)


def test_publisher_time_rendering_matches_drf():
    from rest_framework import serializers

    field = serializers.DateTimeField()
    for moment in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 12, 3, 5, 28, 50, 314000, tzinfo=UTC)):
        assert iso_time(moment) == field.to_representation(moment)
