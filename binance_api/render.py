"""Our markets, orders and trades as Binance's symbols, enums and numbers (decimal strings, epoch ms)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from exchange_site.money import fmt
from markets.candles import EPOCH
from markets.models import Market, Order, Trade
from markets.selectors_cached import markets_by_symbol

from .errors import bad_symbol

STATUS = {
    Order.Status.NEW: "NEW",
    # A stop waiting for its price is NEW on Binance too (not working: workingTime -1).
    Order.Status.UNTRIGGERED: "NEW",
    Order.Status.OPEN: "NEW",
    Order.Status.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    Order.Status.FILLED: "FILLED",
    Order.Status.CANCELED: "CANCELED",
    Order.Status.REJECTED: "REJECTED",
    Order.Status.EXPIRED: "EXPIRED",
}
STP_IN = {"EXPIRE_TAKER": "cancel_taker", "EXPIRE_MAKER": "cancel_maker", "EXPIRE_BOTH": "cancel_both"}
STP_OUT = {value: key for key, value in STP_IN.items()}
SELF_TRADE = "self_trade"


def ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def num(value: Decimal | None) -> str:
    """A decimal string in plain notation ("0.015"); zero when absent, as Binance sends it."""
    return fmt(value) if value is not None else "0"


def symbol_of(market: Market) -> str:
    return f"{market.base.code}{market.quote.code}"


def markets_by_binance_symbol() -> dict[str, Market]:
    return {symbol_of(m): m for m in markets_by_symbol().values()}


def market_for(symbol: str) -> Market:
    """The market a Binance symbol (``BTCUSDT``) names, or -1121 Invalid symbol."""
    market = markets_by_binance_symbol().get(symbol) if len(symbol) <= 40 else None
    if market is None:
        raise bad_symbol()
    return market


def order_status(order: Order) -> str:
    if order.status in (Order.Status.EXPIRED, Order.Status.CANCELED) and order.cancel_reason == SELF_TRADE:
        return "EXPIRED_IN_MATCH"
    return STATUS[order.status]


TYPES = {
    Order.Type.LIMIT: "LIMIT",
    Order.Type.MARKET: "MARKET",
    Order.Type.STOP_LIMIT: "STOP_LOSS_LIMIT",
    Order.Type.STOP_MARKET: "STOP_LOSS",
}
STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)


def order_type(order: Order) -> str:
    if order.type == Order.Type.LIMIT and order.post_only:
        return "LIMIT_MAKER"
    return TYPES[order.type]


def order_list_id(order: Order) -> int:
    return order.order_list_id if order.order_list_id is not None else -1


def working_time(order: Order) -> int:
    """When the order started working in the book: a stop when it triggered (-1 while it waits)."""
    if order.type in STOP_TYPES:
        return ms(order.triggered_at) if order.triggered_at is not None else -1
    return ms(order.created_at)


def client_order_id(order: Order) -> str:
    return order.client_order_id or f"order-{order.pk}"


def order_result(order: Order, market: Market) -> dict[str, Any]:
    """The RESULT shape of a placement (also what a cancel answers)."""
    body = {
        "symbol": symbol_of(market),
        "orderId": order.pk,
        "orderListId": order_list_id(order),
        "clientOrderId": client_order_id(order),
        "transactTime": ms(order.updated_at),
        "price": num(order.price),
        "origQty": num(order.quantity),
        "executedQty": num(order.filled_quantity),
        "origQuoteOrderQty": num(order.quote_quantity),
        "cummulativeQuoteQty": num(order.filled_quote),
        "status": order_status(order),
        "timeInForce": order.time_in_force,
        "type": order_type(order),
        "side": order.side.upper(),
        "workingTime": working_time(order),
        "selfTradePreventionMode": STP_OUT.get(order.self_trade_prevention, "EXPIRE_TAKER"),
    }
    if order.type in STOP_TYPES:
        body["stopPrice"] = num(order.stop_price)
    return body


def order_query(order: Order, market: Market) -> dict[str, Any]:
    """One order as ``GET /api/v3/order`` and the order lists answer it."""
    created = ms(order.created_at)
    return {
        "symbol": symbol_of(market),
        "orderId": order.pk,
        "orderListId": order_list_id(order),
        "clientOrderId": client_order_id(order),
        "price": num(order.price),
        "origQty": num(order.quantity),
        "executedQty": num(order.filled_quantity),
        "cummulativeQuoteQty": num(order.filled_quote),
        "status": order_status(order),
        "timeInForce": order.time_in_force,
        "type": order_type(order),
        "side": order.side.upper(),
        "stopPrice": num(order.stop_price),
        "icebergQty": "0",
        "time": created,
        "updateTime": ms(order.updated_at),
        "isWorking": order.status in Order.RESTING_STATUSES,
        "workingTime": working_time(order),
        "origQuoteOrderQty": num(order.quote_quantity),
        "selfTradePreventionMode": STP_OUT.get(order.self_trade_prevention, "EXPIRE_TAKER"),
    }


def _side_of(trade: Trade, user_id: int) -> tuple[bool, bool, Decimal]:
    """(is buyer, is maker, commission) of ``user_id`` in ``trade`` (the taker's side if both)."""
    is_maker = trade.taker_user_id != user_id
    taker_buys = trade.taker_side == Order.Side.BUY
    is_buyer = taker_buys != is_maker
    fee = trade.maker_fee if is_maker else trade.taker_fee
    return is_buyer, is_maker, fee


def my_trade(trade: Trade, market: Market, user_id: int, lists: dict[int, int] | None = None) -> dict[str, Any]:
    """One of my fills; ``lists`` maps the ids of my OCO legs among them to their list's id."""
    is_buyer, is_maker, fee = _side_of(trade, user_id)
    order_id = trade.maker_order_id if is_maker else trade.taker_order_id
    return {
        "symbol": symbol_of(market),
        "id": trade.pk,
        "orderId": order_id,
        "orderListId": (lists or {}).get(order_id, -1),
        "price": num(trade.price),
        "qty": num(trade.quantity),
        "quoteQty": num(trade.quote_quantity),
        # Fees are taken from what each side receives: the buyer pays in base, the seller in quote.
        "commission": num(fee),
        "commissionAsset": market.base.code if is_buyer else market.quote.code,
        "time": ms(trade.created_at),
        "isBuyer": is_buyer,
        "isMaker": is_maker,
        "isBestMatch": True,
    }


def order_fill(trade: Trade, market: Market, user_id: int) -> dict[str, Any]:
    """One entry of a FULL placement answer's ``fills``."""
    is_buyer, _, fee = _side_of(trade, user_id)
    return {
        "price": num(trade.price),
        "qty": num(trade.quantity),
        "commission": num(fee),
        "commissionAsset": market.base.code if is_buyer else market.quote.code,
        "tradeId": trade.pk,
    }


def public_trade(trade: Trade) -> dict[str, Any]:
    return {
        "id": trade.pk,
        "price": num(trade.price),
        "qty": num(trade.quantity),
        "quoteQty": num(trade.quote_quantity),
        "time": ms(trade.created_at),
        "isBuyerMaker": trade.taker_side == Order.Side.SELL,
        "isBestMatch": True,
    }
