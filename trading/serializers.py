from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from exchange_site.api import iso_time
from exchange_site.fields import MoneyIn, MoneyOut, StrictCharField
from exchange_site.money import fmt, q
from markets.models import Order, OrderList, Trade


class OrderPlaceIn(serializers.Serializer):
    # Strict: a JSON number is a client bug, not a market symbol or an order id.
    market = StrictCharField(max_length=21)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    type = serializers.ChoiceField(choices=Order.Type.choices)
    price = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_price")
    quantity = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_quantity")
    quote_quantity = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_quantity")
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices, default=Order.TimeInForce.GTC)
    post_only = serializers.BooleanField(default=False)
    client_order_id = StrictCharField(
        max_length=64,
        required=False,
        allow_null=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_\-.:]{1,64}$", "Use 1-64 characters: letters, digits, _ - . :")],
    )
    self_trade_prevention = serializers.ChoiceField(
        choices=Order.SelfTradePrevention.choices, default=Order.SelfTradePrevention.CANCEL_TAKER
    )
    stop_price = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_price")
    trigger_immediately = serializers.BooleanField(default=False)
    expire_time = serializers.DateTimeField(required=False, allow_null=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)


CLIENT_ID = RegexValidator(r"^[A-Za-z0-9_\-.:]{1,64}$", "Use 1-64 characters: letters, digits, _ - . :")


class OcoPlaceIn(serializers.Serializer):
    market = StrictCharField(max_length=21)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    quantity = MoneyIn(allow_zero=True, error_code="invalid_quantity")
    price = MoneyIn(allow_zero=True, error_code="invalid_price")
    stop_price = MoneyIn(allow_zero=True, error_code="invalid_price")
    stop_limit_price = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_price")
    client_order_id = StrictCharField(max_length=64, required=False, allow_null=True, validators=[CLIENT_ID])

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)


class OrderAmendIn(serializers.Serializer):
    quantity = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_quantity")
    price = MoneyIn(required=False, allow_null=True, allow_zero=True, error_code="invalid_price")

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)


class OrderOut(serializers.ModelSerializer):
    market = serializers.CharField(source="market.symbol")
    # A market order has no price; a limit order no quote_quantity; a market buy by budget no quantity.
    price = MoneyOut(allow_null=True)
    quantity = MoneyOut(allow_null=True)
    quote_quantity = MoneyOut(allow_null=True)
    filled_quantity = MoneyOut()
    filled_quote = MoneyOut()
    average_price = serializers.SerializerMethodField()
    stop_price = MoneyOut(allow_null=True)
    order_list_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "client_order_id",
            "market",
            "side",
            "type",
            "time_in_force",
            "post_only",
            "self_trade_prevention",
            "price",
            "quantity",
            "quote_quantity",
            "filled_quantity",
            "filled_quote",
            "average_price",
            "status",
            "reject_reason",
            "cancel_reason",
            "stop_price",
            "triggered_at",
            "expire_time",
            "order_list_id",
            "amended_at",
            "created_at",
            "updated_at",
        ]

    def get_average_price(self, order: Order) -> str | None:
        if not order.filled_quantity:
            return None
        return fmt(q(order.filled_quote / order.filled_quantity))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def order_out(order: Any, symbol: str) -> dict[str, Any]:
    """What ``OrderOut`` renders for ``order`` (an ``Order``, or a snapshot of its attributes) in ``symbol``.

    Rendering an order through the serializer cost more than reading it; a test keeps the
    two outputs identical.
    """
    filled_quantity, filled_quote = order.filled_quantity, order.filled_quote
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "market": symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "post_only": bool(order.post_only),
        "self_trade_prevention": order.self_trade_prevention,
        "price": _money(order.price),
        "quantity": _money(order.quantity),
        "quote_quantity": _money(order.quote_quantity),
        "filled_quantity": fmt(filled_quantity),
        "filled_quote": fmt(filled_quote),
        "average_price": fmt(q(filled_quote / filled_quantity)) if filled_quantity else None,
        "status": order.status,
        "reject_reason": order.reject_reason,
        "cancel_reason": order.cancel_reason,
        "stop_price": _money(order.stop_price),
        "triggered_at": iso_time(order.triggered_at),
        "expire_time": iso_time(order.expire_time),
        "order_list_id": order.order_list_id,
        "amended_at": iso_time(order.amended_at),
        "created_at": iso_time(order.created_at),
        "updated_at": iso_time(order.updated_at),
    }


class OrderListOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    market = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderList.Status.choices)
    client_order_id = serializers.CharField(allow_null=True)
    orders = OrderOut(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def order_list_out(order_list: OrderList, symbol: str) -> dict[str, Any]:
    """An order list with its legs (limit leg first, then the stop leg)."""
    return {
        "id": order_list.pk,
        "kind": order_list.kind,
        "market": symbol,
        "status": order_list.status,
        "client_order_id": order_list.client_order_id,
        "orders": [order_out(o, symbol) for o in order_list.orders.order_by("id")],
        "created_at": iso_time(order_list.created_at),
        "updated_at": iso_time(order_list.updated_at),
    }


class FillOut(serializers.Serializer):
    """One of my fills: a trade seen from the caller's side."""

    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    market = serializers.CharField()
    side = serializers.CharField()
    price = serializers.CharField()
    quantity = serializers.CharField()
    quote_quantity = serializers.CharField()
    fee = serializers.CharField()
    fee_currency = serializers.CharField()
    liquidity = serializers.ChoiceField(choices=["maker", "taker"])
    time = serializers.DateTimeField()


def fill_for(trade: Trade, user_id: int) -> dict:
    """Describe a trade from one participant's side (the taker's when both are the same user)."""
    market = trade.market
    is_taker = trade.taker_user_id == user_id
    if is_taker:
        order_id, side, fee = trade.taker_order_id, trade.taker_side, trade.taker_fee
    else:
        order_id = trade.maker_order_id
        side = "sell" if trade.taker_side == "buy" else "buy"
        fee = trade.maker_fee
    return {
        "id": trade.pk,
        "order_id": order_id,
        "market": market.symbol,
        "side": side,
        "price": fmt(trade.price),
        "quantity": fmt(trade.quantity),
        "quote_quantity": fmt(trade.quote_quantity),
        "fee": fmt(fee if fee is not None else Decimal(0)),
        "fee_currency": market.base.code if side == "buy" else market.quote.code,
        "liquidity": "taker" if is_taker else "maker",
        "time": trade.created_at,
    }
