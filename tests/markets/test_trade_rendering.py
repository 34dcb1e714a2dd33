"""The matcher renders recent trades without DRF: the bytes must stay what ``PublicTradeSerializer`` gives."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from markets.models import Order, Trade
from markets.selectors_cached import json_bytes
from markets.serializers_public import PublicTradeSerializer, public_trade_out
from tests.factories import TradeFactory

pytestmark = pytest.mark.django_db

# Trailing zeros, tiny and large amounts, a time with and one without microseconds.
CASES = [
    (Order.Side.BUY, "100", "1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (Order.Side.SELL, "0.000000000000000001", "12345678901234.5", datetime(2026, 12, 3, 5, 28, 50, 314000, tzinfo=UTC)),
    (Order.Side.BUY, "25000.10", "0.0100", datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)),
    (Order.Side.SELL, "1E+3", "2.000000000000000000", datetime(2026, 2, 28, 0, 0, 0, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("side", "price", "quantity", "created_at"), CASES)
def test_trade_rendering_gives_the_serializer_bytes_for_a_fresh_and_a_read_trade(side, price, quantity, created_at):
    fresh = TradeFactory(taker_side=side, price=Decimal(price), quantity=Decimal(quantity), created_at=created_at)
    read = Trade.objects.get(pk=fresh.pk)
    for trade in (fresh, read):
        expected = PublicTradeSerializer(trade).data
        assert public_trade_out(trade) == dict(expected)
        assert json_bytes([public_trade_out(trade)]) == json_bytes([dict(expected)])
