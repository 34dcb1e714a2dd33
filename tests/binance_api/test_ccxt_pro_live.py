"""An unmodified ``ccxt.pro.binance`` watches our book, trades, ticker and candles over the Binance streams."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import ccxt.pro as ccxtpro
import pytest
from django.db import connection

from tests.integration.stack import wait_settled
from tests.ws.scenarios import _random_flow

from .stream_helpers import binance_ws, v3

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

SYMBOL = "BTC/USDT"


def _pro(stack):
    """``ccxt.pro.binance`` pointed at the stack: the same ``urls.api`` overrides as the REST clients, plus ``ws``."""
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    exchange = ccxtpro.binance({"options": options, "timeout": 30000})
    base = f"{stack.url}/api/v3"
    exchange.urls["api"]["public"] = base
    exchange.urls["api"]["private"] = base
    exchange.urls["api"]["ws"]["spot"] = binance_ws(stack, "/ws")
    return exchange


async def _in_thread(func: Callable, *args):
    """Run blocking test code (HTTP, the database) off the event loop; its thread's connection is closed after."""

    def run():
        try:
            return func(*args)
        finally:
            connection.close()

    return await asyncio.to_thread(run)


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _random_orders(stack, market, make_live_trader):
    traders = [make_live_trader(stack, market, base="40", quote="1500000") for _ in range(3)]
    errors: list = []
    threads = [
        threading.Thread(
            target=_random_flow, args=(t, market.symbol), kwargs={"ops": 60, "seed": 10 + i, "errors": errors}
        )
        for i, t in enumerate(traders)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    wait_settled(market)
    return traders[0]


def _marker(stack, market, trader) -> None:
    """A level far from the market, placed last: its diff ends the chain."""
    assert trader.place(side="sell", type="limit", price="39999", quantity="0.001").status_code == 201
    wait_settled(market)


async def _session(stack, market, make_live_trader) -> None:
    exchange = _pro(stack)
    try:
        await exchange.load_markets()
        first = await asyncio.wait_for(exchange.watch_order_book(SYMBOL), 30)
        assert first["nonce"] is not None
        trades_task = asyncio.ensure_future(exchange.watch_trades(SYMBOL))
        await _until(lambda: _subscribed(exchange), "the trades subscription")
        trader = await _in_thread(_random_orders, stack, market, make_live_trader)
        assert (await asyncio.wait_for(trades_task, 30))[0]["symbol"] == SYMBOL

        book_task = asyncio.ensure_future(exchange.watch_order_book(SYMBOL))
        await _in_thread(_marker, stack, market, trader)
        book = await asyncio.wait_for(book_task, 30)
        final = v3(stack, "depth", symbol="BTCUSDT", limit=1000)
        # The book watch_order_book returned is the one ccxt keeps applying events to.
        await _until(lambda: book["nonce"] == final["lastUpdateId"], "the final book")
        assert book["bids"] == [[float(p), float(q)] for p, q in final["bids"]]
        assert book["asks"] == [[float(p), float(q)] for p, q in final["asks"]]
        assert [39999.0, 0.001] in book["asks"]

        rest = v3(stack, "trades", symbol="BTCUSDT", limit=1000)
        assert len(rest) > 10
        wanted = {str(r["id"]) for r in rest}
        await _until(lambda: wanted <= {t["id"] for t in exchange.trades[SYMBOL]}, "every trade")
        watched = {t["id"]: t for t in exchange.trades[SYMBOL]}
        for r in rest:
            t = watched[str(r["id"])]
            assert (t["info"]["p"], t["info"]["q"], t["info"]["T"]) == (r["price"], r["qty"], r["time"])
            assert (t["price"], t["amount"], t["timestamp"]) == (float(r["price"]), float(r["qty"]), r["time"])
            assert t["side"] == ("sell" if r["isBuyerMaker"] else "buy")
        await _ticker_and_ohlcv(stack, exchange)
    finally:
        await exchange.close()


async def _ticker_and_ohlcv(stack, exchange) -> None:
    """watch_ticker and watch_ohlcv: the first event comes within a second of subscribing."""
    ticker = await asyncio.wait_for(exchange.watch_ticker(SYMBOL), 30)
    rest = v3(stack, "ticker/24hr", symbol="BTCUSDT")
    # This ccxt version watches a single ticker on the mini-ticker stream.
    assert ticker["info"]["e"] in ("24hrTicker", "24hrMiniTicker")
    info = ticker["info"]
    assert (info["s"], info["c"], info["o"], info["h"], info["l"], info["v"], info["q"]) == (
        "BTCUSDT",
        rest["lastPrice"],
        rest["openPrice"],
        rest["highPrice"],
        rest["lowPrice"],
        rest["volume"],
        rest["quoteVolume"],
    )
    assert (ticker["symbol"], ticker["last"], ticker["baseVolume"]) == (
        SYMBOL,
        float(rest["lastPrice"]),
        float(rest["volume"]),
    )
    candles = await asyncio.wait_for(exchange.watch_ohlcv(SYMBOL, "1m"), 30)
    rows = v3(stack, "klines", symbol="BTCUSDT", interval="1m")
    assert candles[-1] == [rows[-1][0], *(float(x) for x in rows[-1][1:6])]


def _subscribed(exchange) -> bool:
    """Whether ccxt sent its trades SUBSCRIBE (on a connection of its own: ``/ws/1``)."""
    return any(str(key).startswith("trade::") for client in exchange.clients.values() for key in client.subscriptions)


def test_ccxt_pro_watches_our_book_trades_ticker_and_ohlcv_exactly(stack, live_market, make_live_trader):
    asyncio.run(_session(stack, live_market, make_live_trader))
