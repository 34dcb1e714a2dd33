"""rows_update: the matcher's lean replacement for bulk_update keeps money exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from exchange_site.db import rows_update
from markets.models import Order
from tests.factories import MarketFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def _order(market, user, **fields) -> Order:
    return OrderFactory(market=market, user=user, price=Decimal("100"), quantity=Decimal("5"), **fields)


def test_writes_the_named_fields_of_each_row_exactly_and_nothing_else():
    market, user = MarketFactory(), UserFactory()
    first, second, untouched = (_order(market, user) for _ in range(3))
    later = timezone.now()
    first.filled_quantity = Decimal("1.123456789012345678")
    first.filled_quote = Decimal("123456789012345678.123456789012345678")
    first.status = "partially_filled"
    first.updated_at = later
    second.filled_quantity = Decimal("5")
    second.status = "filled"
    second.price = Decimal("1")  # not among the fields: must stay 100
    rows_update(Order, [first, second], ["status", "filled_quantity", "filled_quote", "updated_at"])

    first.refresh_from_db()
    assert (first.status, first.filled_quantity) == ("partially_filled", Decimal("1.123456789012345678"))
    assert first.filled_quote == Decimal("123456789012345678.123456789012345678")
    assert first.updated_at == later
    second.refresh_from_db()
    assert (second.status, second.filled_quantity, second.price) == ("filled", Decimal("5"), Decimal("100"))
    untouched.refresh_from_db()
    assert (untouched.status, untouched.filled_quantity) == ("new", Decimal("0"))


def test_no_rows_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_update(Order, [], ["status"])
