"""RowsQuery: the matcher's per-batch reads give exactly what the queryset gives, values and types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchange_site.db import RowsQuery
from markets.models import Order
from tests.factories import ORDER_VARIANTS, MarketFactory, order_variant_fields

pytestmark = pytest.mark.django_db

COLUMNS = [f.attname for f in Order._meta.concrete_fields]
# Every nullable column filled in at least once, beside the rendering variants.
EXTRA_VARIANTS = [
    {
        "type": Order.Type.STOP_LIMIT,
        "stop_price": Decimal("99.5"),
        "trigger_immediately": True,
        "time_in_force": Order.TimeInForce.GTD,
        "expire_time": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        "triggered_at": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        "sequence": 7,
    },
    {
        "status": Order.Status.OPEN,
        "amend_quantity": Decimal("123456789012345678.123456789012345678"),
        "amend_price": Decimal("0.000000000000000001"),
        "amend_requested_at": datetime(2026, 12, 3, 5, 28, 50, 314000, tzinfo=UTC),
        "amended_at": datetime(2026, 12, 3, 5, 28, 49, tzinfo=UTC),
        "cancel_requested_at": datetime(2026, 12, 3, 5, 28, 51, 1, tzinfo=UTC),
    },
]


def test_rows_equal_the_querysets_rows_in_value_type_and_form():
    market = MarketFactory()
    for variant in ORDER_VARIANTS + EXTRA_VARIANTS:
        Order.objects.create(**order_variant_fields(market, variant))
    queryset = Order.objects.filter(market=market).order_by("id").values_list(*COLUMNS)
    expected = [tuple(row) for row in queryset]
    query = RowsQuery(queryset)
    for _ in range(2):  # compiled once, run twice
        rows = query.fetch()
        assert [tuple(row) for row in rows] == expected
        assert [[(type(v), repr(v)) for v in row] for row in rows] == [
            [(type(v), repr(v)) for v in row] for row in expected
        ]


def test_each_fetch_is_one_query_and_sees_new_rows(django_assert_num_queries):
    market = MarketFactory()
    query = RowsQuery(Order.objects.filter(market=market, status=Order.Status.NEW).order_by("id").values_list("id"))
    with django_assert_num_queries(1):
        assert query.fetch() == []
    order = Order.objects.create(**order_variant_fields(market, {}))
    with django_assert_num_queries(1):
        assert [tuple(row) for row in query.fetch()] == [(order.pk,)]
