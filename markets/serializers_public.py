"""Output shapes of the public market-data endpoints (decimals as plain strings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exchange_site.api import iso_time
from exchange_site.fields import MoneyOut
from exchange_site.money import fmt

from .candles import EPOCH, INTERVALS
from .models import Currency, Market, Trade

# Far enough for any real query, near enough that bucket arithmetic cannot overflow.
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class ServerTimeSerializer(serializers.Serializer):
    server_time = serializers.DateTimeField()
    epoch_ms = serializers.IntegerField()


class CurrencySerializer(serializers.ModelSerializer):
    withdrawal_fee = MoneyOut()
    min_withdrawal = MoneyOut()
    dual_approval_threshold = MoneyOut()

    class Meta:
        model = Currency
        fields = [
            "code",
            "name",
            "precision",
            "withdrawal_fee",
            "min_withdrawal",
            "dual_approval_threshold",
            "min_confirmations",
            "deposits_enabled",
            "withdrawals_enabled",
        ]
        read_only_fields = fields


class MarketSerializer(serializers.ModelSerializer):
    base = serializers.CharField(source="base.code", read_only=True)
    quote = serializers.CharField(source="quote.code", read_only=True)
    tick_size = MoneyOut()
    lot_size = MoneyOut()
    min_qty = MoneyOut()
    min_notional = MoneyOut()
    maker_fee = MoneyOut()
    taker_fee = MoneyOut()

    class Meta:
        model = Market
        fields = [
            "symbol",
            "base",
            "quote",
            "tick_size",
            "lot_size",
            "min_qty",
            "min_notional",
            "maker_fee",
            "taker_fee",
            "status",
        ]
        read_only_fields = fields


class _Level(serializers.ListField):
    """``[price, quantity]`` as two decimal strings."""

    child = serializers.CharField()
    min_length = 2
    max_length = 2


class DepthSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    sequence = serializers.IntegerField(help_text="Matcher sequence this book reflects; WebSocket diffs follow it.")
    bids = serializers.ListField(child=_Level(), help_text="Best (highest) first.")
    asks = serializers.ListField(child=_Level(), help_text="Best (lowest) first.")


class PublicTradeSerializer(serializers.ModelSerializer):
    price = MoneyOut()
    quantity = MoneyOut()
    quote_quantity = MoneyOut()
    time = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Trade
        fields = ["id", "price", "quantity", "quote_quantity", "taker_side", "time"]
        read_only_fields = fields


def public_trade_out(trade: Trade) -> dict[str, Any]:
    """What ``PublicTradeSerializer`` renders for ``trade``, without DRF.

    The matcher renders the recent trades of every batch; through the serializer that
    cost more than the rest of the batch's market data. A test keeps both identical.
    """
    return {
        "id": trade.id,
        "price": fmt(trade.price),
        "quantity": fmt(trade.quantity),
        "quote_quantity": fmt(trade.quote_quantity),
        "taker_side": trade.taker_side,
        "time": iso_time(trade.created_at),
    }


class CandleSerializer(serializers.Serializer):
    """One candle; reads a ``markets.candles.Bar``."""

    open_time = serializers.DateTimeField()
    open = MoneyOut()
    high = MoneyOut()
    low = MoneyOut()
    close = MoneyOut()
    volume = MoneyOut(help_text="Base quantity traded.")
    quote_volume = MoneyOut(help_text="Quote quantity traded.")
    trade_count = serializers.IntegerField()


@extend_schema_field(OpenApiTypes.STR)
class _TimeParam(serializers.Field):
    """An ISO 8601 time (UTC when no offset is given) or epoch milliseconds."""

    default_error_messages = {
        "time": "Expected an ISO 8601 time or epoch milliseconds.",
        "range": "Time out of range.",
    }

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("time")
        text = data.strip()
        try:
            if text.lstrip("-").isdigit():
                moment = EPOCH + timedelta(milliseconds=int(text))
            else:
                moment = parse_datetime(text)
        except (ValueError, OverflowError):
            self.fail("time")
        if moment is None:
            self.fail("time")
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        if not EPOCH <= moment < _LATEST:
            self.fail("range")
        return moment

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class CandleQuerySerializer(serializers.Serializer):
    """Query parameters of the candles endpoint."""

    interval = serializers.ChoiceField(choices=list(INTERVALS), default="1m")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=500)
    start = _TimeParam(
        required=False, help_text="ISO 8601 time or epoch milliseconds: the first candles opening at or after it."
    )
    end = _TimeParam(
        required=False, help_text="ISO 8601 time or epoch milliseconds: only candles opening at or before it."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"end": "Must not be before start."})
        return attrs


class TickerSerializer(serializers.Serializer):
    """Rolling 24 h statistics (documentation of ``markets.selectors.ticker_get``'s output)."""

    symbol = serializers.CharField()
    last_price = serializers.CharField(allow_null=True, help_text="Price of the latest trade ever; null if none.")
    open_price = serializers.CharField(allow_null=True, help_text="First price in the last 24 h; null if no trade.")
    high = serializers.CharField(allow_null=True)
    low = serializers.CharField(allow_null=True)
    volume = serializers.CharField()
    quote_volume = serializers.CharField()
    change_percent = serializers.CharField(help_text='(last - open) / open * 100, two decimals; "0" with no trade.')
    best_bid = serializers.CharField(allow_null=True)
    best_ask = serializers.CharField(allow_null=True)
