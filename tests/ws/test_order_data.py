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
