"""The publisher renders orders without DRF: its output must stay what ``OrderOut`` gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exchange_site.api import iso_time
from markets.models import Order
from realtime.frames import order_data, order_values
from tests.factories import ORDER_VARIANTS as VARIANTS
from tests.factories import MarketFactory, OrderFactory, order_variant_fields
from trading.serializers import OrderOut

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("variant", VARIANTS)
def test_publisher_order_rendering_matches_the_rest_serializer(variant):
    market = MarketFactory()
    fields = order_variant_fields(market, variant)
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


def test_a_frame_built_from_its_rendered_data_is_the_frame_itself():
    """Trades are encoded once for their own frames and the batched frame: the bytes must not change."""
    import json

    from realtime.frames import frame, frame_of_json

    trades = [
        {"id": 7, "price": "30000.5", "quantity": "0.001", "taker_side": "buy", "time": "2026-12-03T05:28:50.314Z"},
        {"id": 8, "price": "1e-8", "quantity": "12", "taker_side": "sell", "time": "2026-12-03T05:28:51Z"},
    ]
    texts = [json.dumps(t, separators=(",", ":")) for t in trades]
    for channel in ("trades:BTC-USDT", 'trades:Ü"x'):
        assert frame_of_json(channel, 1796309179380, texts[0]) == frame(channel, 1796309179380, trades[0])
        batched = frame_of_json(channel, 5, "[" + ",".join(texts) + "]")
        assert batched == frame(channel, 5, trades)
