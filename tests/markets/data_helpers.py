"""Rows for the public market-data tests, created directly with the ORM (no matcher)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from accounts.models import User
from markets.models import BookSnapshot, Candle, Market, Order, Trade
from tests.factories import TradeFactory, UserFactory


def quick_user() -> User:
    """A user without the cost of hashing a password (these tests never log in)."""
    return UserFactory(password=None)


def make_trade(
    market: Market,
    *,
    price: str,
    quantity: str,
    time: datetime,
    taker_side: str = Order.Side.BUY,
    maker: User | None = None,
    taker: User | None = None,
) -> Trade:
    """A trade between two filled limit orders, as the matcher would have written it."""
    return TradeFactory(
        market=market,
        price=Decimal(price),
        quantity=Decimal(quantity),
        created_at=time,
        taker_side=taker_side,
        maker_user=maker or quick_user(),
        taker_user=taker or quick_user(),
    )


def make_candle(
    market: Market,
    open_time: datetime,
    *,
    open: str,
    high: str | None = None,
    low: str | None = None,
    close: str | None = None,
    volume: str = "1",
    quote_volume: str | None = None,
    trade_count: int = 1,
) -> Candle:
    """A 1-minute candle; high, low and close default to ``open``, quote volume to open * volume."""
    return Candle.objects.create(
        market=market,
        open_time=open_time,
        open=Decimal(open),
        high=Decimal(high or open),
        low=Decimal(low or open),
        close=Decimal(close or open),
        volume=Decimal(volume),
        quote_volume=Decimal(quote_volume) if quote_volume is not None else Decimal(open) * Decimal(volume),
        trade_count=trade_count,
    )


def make_snapshot(market: Market, *, sequence: int, bids: list[list[str]], asks: list[list[str]]) -> BookSnapshot:
    return BookSnapshot.objects.create(market=market, sequence=sequence, bids=bids, asks=asks)


def levels(start: int, count: int, step: int) -> list[list[str]]:
    """``count`` price levels from ``start`` moving by ``step``, each with quantity "1.5"."""
    return [[str(start + i * step), "1.5"] for i in range(count)]
