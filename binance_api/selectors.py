"""Reads the facade needs beyond the project's own selectors: book tops, trade ranges, averages."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from django.db.models import Count, Max, Min, Sum

from exchange_site.money import q
from markets.candles import EXACT_PRECISION
from markets.models import BookSnapshot, Candle, Market, Trade
from markets.selectors import TICKER_WINDOW, ticker_get

from .render import ms, num, symbol_of

AVG_PRICE_MINUTES = 5


def book_top(market: Market) -> dict[str, Any]:
    row = BookSnapshot.objects.filter(market=market).values_list("bids", "asks").first()
    bids, asks = row if row is not None else ([], [])
    bid = bids[0] if bids else ["0", "0"]
    ask = asks[0] if asks else ["0", "0"]
    return {"symbol": symbol_of(market), "bidPrice": bid[0], "bidQty": bid[1], "askPrice": ask[0], "askQty": ask[1]}


def last_price(market: Market) -> Decimal | None:
    return Trade.objects.filter(market=market).order_by("-id").values_list("price", flat=True).first()


def _dec(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


def ticker_24h(market: Market, *, now: datetime, mini: bool = False) -> dict[str, Any]:
    """Binance's 24 h ticker from the project's ticker (candles) plus the window's trade ids."""
    ticker = ticker_get(market=market, now=now)
    since = now - TICKER_WINDOW
    span = Trade.objects.filter(market=market, created_at__gte=since).aggregate(
        first=Min("id"), last=Max("id"), count=Count("id")
    )
    last_qty = None
    if span["last"] is not None:
        last_qty = Trade.objects.filter(pk=span["last"]).values_list("quantity", flat=True).first()
    last = _dec(ticker["last_price"])
    opened = _dec(ticker["open_price"]) if ticker["open_price"] is not None else last
    volume, quote_volume = _dec(ticker["volume"]), _dec(ticker["quote_volume"])
    body: dict[str, Any] = {"symbol": symbol_of(market)}
    if not mini:
        with localcontext(prec=EXACT_PRECISION):
            weighted = q(quote_volume / volume) if volume else Decimal(0)
            body.update(
                priceChange=num(last - opened if ticker["open_price"] is not None else Decimal(0)),
                priceChangePercent=ticker["change_percent"],
                weightedAvgPrice=num(weighted),
                prevClosePrice=num(_prev_close(market, since)),
                lastPrice=num(last),
                lastQty=num(last_qty),
            )
        top = book_top(market)
        body.update(bidPrice=top["bidPrice"], bidQty=top["bidQty"], askPrice=top["askPrice"], askQty=top["askQty"])
    body.update(
        openPrice=num(opened),
        highPrice=num(_dec(ticker["high"]) if ticker["high"] is not None else last),
        lowPrice=num(_dec(ticker["low"]) if ticker["low"] is not None else last),
        volume=num(volume),
        quoteVolume=num(quote_volume),
        openTime=ms(since),
        closeTime=ms(now),
        firstId=span["first"] if span["first"] is not None else -1,
        lastId=span["last"] if span["last"] is not None else -1,
        count=span["count"],
    )
    if mini:
        body["lastPrice"] = num(last)
    return body


def _prev_close(market: Market, before: datetime) -> Decimal | None:
    return (
        Candle.objects.filter(market=market, open_time__lt=before)
        .order_by("-open_time")
        .values_list("close", flat=True)
        .first()
    )


def avg_price(market: Market, *, now: datetime) -> dict[str, Any]:
    """Volume-weighted price of the last five minutes' trades (the last price when there were none)."""
    since = now - timedelta(minutes=AVG_PRICE_MINUTES)
    sums = Trade.objects.filter(market=market, created_at__gte=since).aggregate(
        qty=Sum("quantity"), quote=Sum("quote_quantity"), at=Max("created_at")
    )
    last = Trade.objects.filter(market=market).order_by("-id").values_list("price", "created_at").first()
    if sums["qty"]:
        with localcontext(prec=EXACT_PRECISION):
            price = q(Decimal(sums["quote"]) / Decimal(sums["qty"]))
        close_time = sums["at"]
    else:
        price = last[0] if last else None
        close_time = last[1] if last else None
    return {"mins": AVG_PRICE_MINUTES, "price": num(price), "closeTime": ms(close_time) if close_time else 0}


def agg_trades(
    market: Market, *, from_id: int | None, start: datetime | None, end: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Trades of one taker order at one price, consecutive in the tape, as one aggregate (id = first trade's)."""
    rows = Trade.objects.filter(market=market)
    if from_id is not None:
        trades = list(rows.filter(id__gte=from_id).order_by("id")[:limit])
    elif start is not None or end is not None:
        if start is not None:
            rows = rows.filter(created_at__gte=start)
        if end is not None:
            rows = rows.filter(created_at__lte=end)
        trades = list(rows.order_by("id")[:limit])
    else:
        trades = list(rows.order_by("-id")[:limit])[::-1]
    result: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for t in trades:
        if current is not None and current["_taker"] == t.taker_order_id and current["_price"] == t.price:
            current["_qty"] += t.quantity
            current["l"] = t.pk
            continue
        current = {
            "_taker": t.taker_order_id,
            "_price": t.price,
            "_qty": t.quantity,
            "a": t.pk,
            "f": t.pk,
            "l": t.pk,
            "T": ms(t.created_at),
            "m": t.taker_side == "sell",
        }
        result.append(current)
    return [
        {
            "a": r["a"],
            "p": num(r["_price"]),
            "q": num(r["_qty"]),
            "f": r["f"],
            "l": r["l"],
            "T": r["T"],
            "m": r["m"],
            "M": True,
        }
        for r in result
    ]
