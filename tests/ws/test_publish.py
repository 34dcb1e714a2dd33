"""What the matcher and settlement publish, seen by WebSocket clients of the consumer.

The real matcher (``MarketMatcher``), the real publisher hooks and the real
settlement run in this process; the clients are ``WebsocketCommunicator``s.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from markets.models import Market, Order, Trade
from markets.selectors import depth_get, ticker_get
from matching.runner import batch_event
from matching.worker import MarketMatcher
from realtime.frames import epoch_ms
from realtime.publisher import publisher
from realtime.routing import websocket_urlpatterns
from realtime.subscribers import batch_publish
from tests.factories import MarketFactory, UserFactory, fund
from trading.serializers import OrderOut
from trading.services import OrderRequest, order_place
from wallets.models import Wallet
from wallets.settlement import market_settle_all

from .helpers import LocalBook, access_token

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


@database_sync_to_async
def place(user, side: str, price: str, quantity: str, **extra) -> Order:
    market = Market.objects.select_related("base", "quote").get(symbol="BTC-USDT")
    request = OrderRequest(side=side, type="limit", price=D(price), quantity=D(quantity), **extra)
    order, _ = order_place(user_id=user.pk, market=market, order=request)
    return order


@database_sync_to_async
def match(market: Market) -> list:
    """One matcher pass over everything queued, publishing each batch like the runner does."""
    matcher = MarketMatcher(market.pk)
    results = []
    while (result := matcher.run_batch()) is not None:
        batch_publish(batch_event(result))
        results.append(result)
    return results


@database_sync_to_async
def settle(market: Market) -> None:
    market_settle_all(market_id=market.pk)


async def opened(*channels: str, token: str | None = None) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws/v1/")
    assert (await ws.connect())[0]
    if token:
        await ws.send_json_to({"op": "auth", "token": token})
        assert await ws.receive_json_from(timeout=5) == {"op": "authenticated"}
    if channels:
        await ws.send_json_to({"op": "subscribe", "channels": list(channels)})
        assert (await ws.receive_json_from(timeout=5))["op"] == "subscribed"
    return ws


async def take(ws: WebsocketCommunicator, count: int) -> list[dict]:
    return [await ws.receive_json_from(timeout=10) for _ in range(count)]


async def take_until(ws: WebsocketCommunicator, done) -> list[dict]:
    events: list[dict] = []
    while not done(events):
        events.append(await ws.receive_json_from(timeout=10))
    return events


def channel_data(events: list[dict], channel: str) -> list[dict]:
    return [e["data"] for e in events if e["channel"] == channel]


@pytest.fixture
def traders(transactional_db):
    market = MarketFactory()
    seller, buyer, bystander = UserFactory(), UserFactory(), UserFactory()
    fund(seller, market.base, "2")
    fund(buyer, market.quote, "100000")
    fund(bystander, market.quote, "1000")
    publisher().flush()  # the deposits' balance pushes go out before any client subscribes
    return market, seller, buyer, bystander


def test_a_matched_batch_publishes_its_trades_one_depth_diff_and_the_ticker(traders):
    market, seller, buyer, _ = traders

    async def scenario():
        ws = await opened("trades:BTC-USDT", "depth:BTC-USDT", "ticker:BTC-USDT")
        await place(seller, "sell", "30000", "0.5")
        await place(seller, "sell", "30100", "0.3")
        await place(seller, "sell", "30200", "0.1")
        await place(buyer, "buy", "30100", "0.6")
        results = await match(market)
        events = await take(ws, 4)  # two trades, one diff, one ticker
        await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return results, events

    results, events = asyncio.run(scenario())
    assert len(results) == 1, "four orders queued together are one batch"
    batch = results[0]
    commit_ms = epoch_ms(batch.committed_at)
    assert [e["channel"] for e in events] == ["trades:BTC-USDT"] * 2 + ["depth:BTC-USDT", "ticker:BTC-USDT"]
    assert {e["event_time"] for e in events} == {commit_ms}

    trades = list(Trade.objects.filter(market=market).order_by("id"))
    assert channel_data(events, "trades:BTC-USDT") == [
        {
            "id": t.pk,
            "price": p,
            "quantity": q,
            "taker_side": "buy",
            "time": t.created_at.isoformat().replace("+00:00", "Z"),
        }
        for t, p, q in zip(trades, ["30000", "30100"], ["0.5", "0.1"], strict=True)
    ]

    [diff] = channel_data(events, "depth:BTC-USDT")
    assert diff["first_sequence"] == batch.first_sequence == 1
    assert diff["sequence"] == batch.sequence == 4
    book = LocalBook({"sequence": 0, "bids": [], "asks": []})
    book.apply(diff)
    snapshot = depth_get(market=market, limit=500)
    assert book.sequence == snapshot["sequence"]
    assert book.levels() == (snapshot["bids"], snapshot["asks"])
    assert snapshot["asks"] == [["30100", "0.2"], ["30200", "0.1"]]

    [ticker] = channel_data(events, "ticker:BTC-USDT")
    assert ticker == ticker_get(market=market), "REST and WebSocket tickers agree"
    assert ticker["last_price"] == "30100"
    assert ticker["volume"] == "0.6"


def test_private_updates_reach_only_their_owner(traders):
    market, seller, buyer, bystander = traders
    tokens = {u.pk: access_token(u) for u in (seller, buyer, bystander)}
    private = ("orders", "fills", "balances")

    async def scenario():
        ws_seller = await opened(*private, token=tokens[seller.pk])
        ws_buyer = await opened(*private, token=tokens[buyer.pk])
        ws_bystander = await opened(*private, token=tokens[bystander.pk])
        ws_public = await opened("trades:BTC-USDT")
        ask = await place(seller, "sell", "30000", "0.5")
        await match(market)
        resting = await take_until(ws_seller, lambda events: len(channel_data(events, "orders")) == 2)
        bid = await place(buyer, "buy", "30000", "0.2")
        await match(market)
        await settle(market)

        def settled(events):
            # The order's lock when placed, then settlement's two currencies.
            return len(channel_data(events, "fills")) == 1 and len(channel_data(events, "balances")) == 3

        seller_events = resting + await take_until(ws_seller, lambda events: settled(resting + events))
        buyer_events = await take_until(ws_buyer, settled)
        public_events = await take(ws_public, 1)
        for ws in (ws_bystander, ws_public):
            await ws.receive_nothing(timeout=0.5)
        for ws in (ws_seller, ws_buyer, ws_bystander, ws_public):
            await ws.disconnect()
        return ask, bid, seller_events, buyer_events, public_events

    ask, bid, seller_events, buyer_events, public_events = asyncio.run(scenario())
    assert {e["channel"] for e in public_events} == {"trades:BTC-USDT"}

    ask.refresh_from_db()
    bid.refresh_from_db()
    seller_orders = channel_data(seller_events, "orders")
    assert [o["status"] for o in seller_orders] == ["new", "open", "partially_filled"]
    assert {o["id"] for o in seller_orders} == {ask.pk}
    assert seller_orders[-1] == dict(OrderOut(Order.objects.select_related("market").get(pk=ask.pk)).data)
    buyer_orders = channel_data(buyer_events, "orders")
    assert [(o["id"], o["status"]) for o in buyer_orders] == [(bid.pk, "new"), (bid.pk, "filled")]

    trade = Trade.objects.get(market=market)
    [seller_fill] = channel_data(seller_events, "fills")
    [buyer_fill] = channel_data(buyer_events, "fills")
    assert (seller_fill["id"], seller_fill["order_id"], seller_fill["liquidity"]) == (trade.pk, ask.pk, "maker")
    assert (seller_fill["side"], seller_fill["fee"], seller_fill["fee_currency"]) == ("sell", "6", "USDT")
    assert (buyer_fill["id"], buyer_fill["order_id"], buyer_fill["liquidity"]) == (trade.pk, bid.pk, "taker")
    assert (buyer_fill["side"], buyer_fill["fee"], buyer_fill["fee_currency"]) == ("buy", "0.0004", "BTC")

    for user, events in ((seller, seller_events), (buyer, buyer_events)):
        expected = {
            w.currency.code: {
                "currency": w.currency.code,
                "balance": f"{w.balance.normalize():f}",
                "locked": f"{w.locked.normalize():f}",
                "available": f"{(w.balance - w.locked).normalize():f}",
            }
            for w in Wallet.objects.filter(user=user).select_related("currency")
        }
        assert {b["currency"]: b for b in channel_data(events, "balances")} == expected
    assert {b["currency"]: b["balance"] for b in channel_data(seller_events, "balances")} == {
        "BTC": "1.8",
        "USDT": "5994",
    }


def test_the_depth_chain_covers_batches_that_change_no_level(traders):
    market, seller, buyer, _ = traders

    async def scenario():
        ws = await opened("depth:BTC-USDT")
        await place(seller, "sell", "30500", "0.1")
        [first] = await match(market)
        # An IOC that finds nothing to take changes no level: no diff for its batch.
        await place(buyer, "buy", "30000", "0.1", time_in_force="IOC")
        [empty] = await match(market)
        snapshot = await database_sync_to_async(depth_get)(market=market, limit=500)
        await place(seller, "sell", "30600", "0.2")
        [last] = await match(market)
        events = await take(ws, 2)
        await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return first, empty, last, snapshot, events

    first, empty, last, snapshot, events = asyncio.run(scenario())
    assert not (empty.depth_bids)
    assert not (empty.depth_asks)
    one, two = (e["data"] for e in events)
    assert (one["first_sequence"], one["sequence"]) == (first.first_sequence, first.sequence)
    assert two["first_sequence"] == one["sequence"] + 1 == empty.first_sequence
    assert two["sequence"] == last.sequence
    assert two["asks"] == [["30600", "0.2"]]
    assert two["bids"] == []
    # A client whose snapshot was taken after the empty batch syncs on the next diff.
    assert snapshot["sequence"] == empty.sequence
    book = LocalBook(snapshot)
    assert book.apply(two)
    final = depth_get(market=market, limit=500)
    assert book.levels() == (final["bids"], final["asks"])


def test_unsubscribed_and_refused_channels_receive_nothing(traders):
    market, seller, buyer, _ = traders

    async def scenario():
        ws = await opened("trades:BTC-USDT", "ticker:BTC-USDT")
        await ws.send_json_to({"op": "unsubscribe", "channels": ["trades:BTC-USDT"]})
        assert (await ws.receive_json_from(timeout=5))["op"] == "unsubscribed"
        await ws.send_json_to({"op": "subscribe", "channels": ["depth:BTC-USDT", "depth:NOPE-USDT"]})
        assert (await ws.receive_json_from(timeout=5))["code"] == "unknown_market"
        await place(seller, "sell", "30000", "0.1")
        await place(buyer, "buy", "30000", "0.1")
        await match(market)
        events = await take(ws, 1)
        await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return events

    events = asyncio.run(scenario())
    assert [e["channel"] for e in events] == ["ticker:BTC-USDT"]
