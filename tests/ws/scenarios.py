"""Scenarios run by real WebSocket clients against a running stack.

The same scenarios run on daphne + run_matcher + Celery with channels-redis
(``test_live_redis.py``) and on the one-process ``runexchange`` with the in-memory
layer (``test_live_one_process.py``).
"""

from __future__ import annotations

import json
import random
import threading
import time
from decimal import Decimal as D

from websockets.sync.client import connect

from markets.models import Market, Trade
from tests.integration.stack import Trader, wait_settled

from .helpers import LocalBook, WsClient, expired_token, forged_token, refresh_token

PRIVATE = ["orders", "fills", "balances"]


def token_of(trader: Trader) -> str:
    return trader.http.headers["Authorization"].split()[1]


def authed(client: WsClient, trader: Trader, channels: list[str]) -> WsClient:
    assert client.request({"op": "auth", "token": token_of(trader)}) == {"op": "authenticated"}
    assert client.request({"op": "subscribe", "channels": channels}) == {"op": "subscribed", "channels": channels}
    return client


def _assert_private_stream(client: WsClient, trader: Trader, order_ids: set[int], symbol: str) -> None:
    """The trader's socket shows exactly their fills, balances and final order states, as REST does."""
    rest_fills = trader.http.get(f"/api/v1/trades?market={symbol}").json()["results"]
    rest_balances = {b["currency"]: b for b in trader.http.get("/api/v1/balances").json()}

    def caught_up() -> bool:
        latest = {b["currency"]: b for b in client.data("balances")}
        finals = {o["id"]: o for o in client.data("orders")}
        return (
            len(client.data("fills")) == len(rest_fills)
            and all(latest.get(c) == rest_balances[c] for c in ("BTC", "USDT"))
            and set(finals) == order_ids
        )

    client.wait(caught_up, what="private updates")
    assert {f["id"]: f for f in client.data("fills")} == {f["id"]: f for f in rest_fills}
    # Order updates come from the matcher's publisher, fills and balances from
    # settlement's (another process): the last order states may still be on their way.
    rest_orders = {order_id: trader.order(order_id) for order_id in order_ids}

    def final_orders() -> bool:
        last_orders = {o["id"]: o for o in client.data("orders")}
        return all(last_orders.get(order_id) == order for order_id, order in rest_orders.items())

    client.wait(final_orders, what="the orders' final states, equal to REST")


def public_and_private_streams(stack, market: Market, make_live_trader, ws_client) -> None:
    symbol = market.symbol
    public_channels = [f"trades:{symbol}", f"depth:{symbol}", f"ticker:{symbol}"]
    seller = make_live_trader(stack, market, base="2")
    buyer = make_live_trader(stack, market, quote="100000")
    bystander = make_live_trader(stack, market, quote="1000")
    public = ws_client(stack)
    assert public.request({"op": "subscribe", "channels": public_channels})["op"] == "subscribed"
    ws_seller = authed(ws_client(stack), seller, PRIVATE)
    ws_buyer = authed(ws_client(stack), buyer, PRIVATE)
    ws_bystander = authed(ws_client(stack), bystander, PRIVATE)

    s1 = seller.place(side="sell", type="limit", price="30000", quantity="0.5").json()
    s2 = seller.place(side="sell", type="limit", price="30100", quantity="0.3").json()
    wait_settled(market)
    b1 = buyer.place(side="buy", type="limit", price="30100", quantity="0.6").json()
    b2 = buyer.place(side="buy", type="market", quote_quantity="1000").json()
    wait_settled(market)

    rest_trades = stack_get(stack, f"/api/v1/markets/{symbol}/trades?limit=100")[::-1]
    assert len(rest_trades) == Trade.objects.filter(market=market).count() == 3
    public.wait(lambda: len(public.events(f"trades:{symbol}")) >= 3, what="three trades")
    rest_ticker = stack_get(stack, f"/api/v1/markets/{symbol}/ticker")
    public.wait(lambda: public.data(f"ticker:{symbol}")[-1:] == [rest_ticker], what="the REST ticker")

    # Trades: every one, once, in the matcher's order, with the REST fields.
    ws_trades = public.data(f"trades:{symbol}")
    assert ws_trades == [{k: t[k] for k in ("id", "price", "quantity", "taker_side", "time")} for t in rest_trades]
    for event in public.events(f"trades:{symbol}"):
        assert abs(event["event_time"] - _ms(event["data"]["time"])) < 5000
    # event_time is the commit: never after the client got it.
    for message, arrived in zip(public.messages, public.arrivals, strict=True):
        if "event_time" in message:
            assert message["event_time"] <= arrived * 1000 + 5

    # Depth: the diffs rebuild the committed book from empty. Diffs are coalesced per
    # flush interval, so the last one may arrive after the trades and the ticker.
    snapshot = stack_get(stack, f"/api/v1/markets/{symbol}/depth?limit=500")
    public.wait(
        lambda: any(d["sequence"] >= snapshot["sequence"] for d in public.data(f"depth:{symbol}")),
        what="the depth diff of the snapshot's sequence",
    )
    book = LocalBook({"sequence": 0, "bids": [], "asks": []})
    for diff in public.data(f"depth:{symbol}"):
        book.apply(diff)
    assert book.sequence == snapshot["sequence"]
    assert book.levels() == (snapshot["bids"], snapshot["asks"])

    # Private: each trader sees their own orders, fills and balances, and nobody else's.
    _assert_private_stream(ws_seller, seller, {s1["id"], s2["id"]}, symbol)
    _assert_private_stream(ws_buyer, buyer, {b1["id"], b2["id"]}, symbol)
    s2_states = [o["status"] for o in ws_seller.data("orders") if o["id"] == s2["id"]]
    assert s2_states[:2] == ["new", "open"], s2_states
    assert set(s2_states[2:]) == {"partially_filled"}, s2_states
    time.sleep(0.5)  # the subject is an absence: give a stray private push time to arrive
    assert [m for m in ws_bystander.messages if "channel" in m] == []
    assert [m for m in public.messages if m.get("channel") in PRIVATE] == []


def auth_failures_and_malformed_frames(stack, user, ws_client) -> None:
    client = ws_client(stack)
    for token in (expired_token(user), forged_token(user), refresh_token(user), "garbage"):
        answer = client.request({"op": "auth", "token": token})
        assert (answer["op"], answer["code"]) == ("error", "not_authenticated"), answer
        assert client.request({"op": "subscribe", "channels": ["orders"]})["code"] == "not_authenticated"
    for frame, code in [
        ("{not json", "invalid_json"),
        ("[]", "invalid_message"),
        ('{"op": "fly"}', "unknown_op"),
        ('{"op": "subscribe", "channels": ["kline:BTC-USDT"]}', "unknown_channel"),
        ('{"op": "subscribe", "channels": ["trades:DOGE-USDT"]}', "unknown_market"),
        ('{"op": "subscribe", "channels": "trades:BTC-USDT"}', "invalid_message"),
        ("x" * 1_000_000, "message_too_large"),
        (b"\x89\x00binary", "invalid_message"),
    ]:
        answer = client.request(frame)
        assert (answer["op"], answer["code"]) == ("error", code), (frame[:40], answer)
    assert client.request({"op": "ping"}) == {"op": "pong"}
    assert not client.closed


def _random_flow(trader: Trader, symbol: str, *, ops: int, seed: int, errors: list) -> None:
    rng = random.Random(seed)
    mine: list[int] = []
    for _ in range(ops):
        roll = rng.random()
        if roll < 0.25 and mine:
            resp = trader.http.delete(f"/api/v1/orders/{mine.pop(rng.randrange(len(mine)))}")
        else:
            side = rng.choice(["buy", "sell"])
            qty = str(D(rng.randint(1, 40)) / 1000)
            if roll < 0.33:
                resp = trader.place(market=symbol, side=side, type="market", quantity=qty)
            else:
                price = str(30000 + rng.randint(-20, 20))
                resp = trader.place(market=symbol, side=side, type="limit", price=price, quantity=qty)
            if resp.status_code == 201:
                mine.append(resp.json()["id"])
        if resp.status_code >= 500 or resp.status_code in (401, 403):
            errors.append((resp.status_code, resp.text))


def depth_sync(stack, market: Market, make_live_trader, ws_client, *, traders: int = 4, ops: int = 100) -> dict:
    """Snapshot + diffs while random orders and cancels flow; the local book ends equal to REST."""
    symbol = market.symbol
    channel = f"depth:{symbol}"
    client = ws_client(stack)
    assert client.request({"op": "subscribe", "channels": [channel]})["op"] == "subscribed"
    # A client that subscribes and then never reads must not hold anyone up.
    stalled = connect(stack.ws_url, max_queue=1, legacy=True)
    stalled.send(json.dumps({"op": "subscribe", "channels": [channel, f"trades:{symbol}", f"ticker:{symbol}"]}))

    flow = [make_live_trader(stack, market, base="40", quote="1500000") for _ in range(traders)]
    errors: list = []
    threads = [
        threading.Thread(target=_random_flow, args=(t, symbol), kwargs={"ops": ops, "seed": i, "errors": errors})
        for i, t in enumerate(flow)
    ]
    for t in threads:
        t.start()
    # Join mid-stream: wait for some diffs, then take the snapshot and apply what follows.
    client.wait(lambda: len(client.events(channel)) >= 5, timeout=60, what="the first diffs")
    snapshot = stack_get(stack, f"/api/v1/markets/{symbol}/depth?limit=500")
    book = LocalBook(snapshot)
    applied = 0

    def catch_up() -> None:
        nonlocal applied
        diffs = client.data(channel)
        for diff in diffs[applied:]:
            book.apply(diff)
        applied = len(diffs)

    while any(t.is_alive() for t in threads):
        catch_up()
        time.sleep(0.05)  # pacing: apply diffs while the writers run, not a wait
    for t in threads:
        t.join()
    assert errors == []
    wait_settled(market)
    # A marker order far from the market: once its level is in the local book, every
    # earlier batch's diff has been applied too.
    marker = flow[0].place(market=symbol, side="sell", type="limit", price="39999", quantity="0.001")
    assert marker.status_code == 201, marker.text
    wait_settled(market)

    def has_marker() -> bool:
        catch_up()
        return "39999" in book.asks

    client.wait(has_marker, timeout=30, what="the marker level")
    final = stack_get(stack, f"/api/v1/markets/{symbol}/depth?limit=500")
    catch_up()
    assert book.sequence == final["sequence"]
    assert book.levels() == (final["bids"], final["asks"]), "local book differs from the REST snapshot"
    assert book.applied > 0
    stalled.close()
    return {"diffs": len(client.data(channel)), "applied": book.applied, "snapshot_sequence": snapshot["sequence"]}


def stack_get(stack, path: str):
    import httpx

    resp = httpx.get(stack.url + path, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _ms(text: str) -> int:
    from datetime import datetime

    from realtime.frames import epoch_ms

    return epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
