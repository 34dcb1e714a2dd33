"""The REST views render orders without DRF's serializer: the output must stay what ``OrderOut`` gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from exchange_site.api import iso_time
from markets.models import Order
from tests.factories import ORDER_VARIANTS as VARIANTS
from tests.factories import MarketFactory, order_variant_fields
from trading.serializers import OrderOut, order_out

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("variant", VARIANTS)
def test_order_rendering_matches_the_serializer_for_a_read_and_a_fresh_order(variant):
    market = MarketFactory()
    fields = order_variant_fields(market, variant)
    fresh = Order.objects.create(**fields)
    assert order_out(fresh, market.symbol) == dict(OrderOut(fresh).data)
    # A microsecond-free time too: isoformat drops the fraction then.
    Order.objects.filter(pk=fresh.pk).update(updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    read = Order.objects.select_related("market").get(pk=fresh.pk)
    assert order_out(read, market.symbol) == dict(OrderOut(read).data)


def test_time_rendering_matches_drf():
    field = serializers.DateTimeField()
    for moment in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 12, 3, 5, 28, 50, 314000, tzinfo=UTC)):
        assert iso_time(moment) == field.to_representation(moment)
