"""Binance market streams from the real ws process (daphne, run_ws) beside web, matcher and worker."""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.stack import wait_settled
from tests.ws.scenarios import _random_flow

from .stream_helpers import BinanceBook, StreamClient, binance_ws, v3

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ALL = (
    "btcusdt@trade/btcusdt@depth@100ms/btcusdt@ticker/btcusdt@miniTicker/btcusdt@kline_1m/btcusdt@kline_1w"
    "/btcusdt@bookTicker/btcusdt@depth5@100ms"
)


@pytest.fixture
def clients():
    opened: list[StreamClient] = []

    def _open(stack, path: str) -> StreamClient:
        client = StreamClient(binance_ws(stack, path))
        opened.append(client)
        return client

    yield _open
    for client in opened:
        client.close()


def test_each_stream_raw_and_combined_carries_what_rest_says(stack, live_market, make_live_trader, clients):
    market = live_market
    seller = make_live_trader(stack, market, base="1")
    buyer = make_live_trader(stack, market, quote="100000")
    raw = clients(stack, "/ws/btcusdt@trade")
    combined = clients(stack, f"/stream?streams={ALL}")
    live = clients(stack, "/ws")
    assert live.call("SUBSCRIBE", ["btcusdt@depth", "btcusdt@kline_5m"], request_id=7) == {"result": None, "id": 7}
    # The URL's streams are subscribed by the time a request on the socket is answered.
    assert combined.call("LIST_SUBSCRIPTIONS")["result"] == ALL.split("/")
    assert raw.call("LIST_SUBSCRIPTIONS")["result"] == ["btcusdt@trade"]

    assert seller.place(side="sell", type="limit", price="30000", quantity="0.5").status_code == 201
    assert buyer.place(side="buy", type="limit", price="30000", quantity="0.2").status_code == 201
    assert buyer.place(side="buy", type="limit", price="29900", quantity="0.1").status_code == 201
    wait_settled(market)

    rest = _check_trade(stack, raw, combined)
    _check_depth(stack, combined, live)
    _check_tickers(stack, combined)
    _check_klines(stack, combined, live, rest)
    _check_book_streams(stack, combined)
    assert all("stream" in m and "data" in m for m in combined.messages if "id" not in m)
    assert all("stream" not in m for m in live.messages)


def _check_trade(stack, raw: StreamClient, combined: StreamClient) -> dict:
    rest_trades = v3(stack, "trades", symbol="BTCUSDT")
    assert len(rest_trades) == 1
    trade = raw.wait(lambda: raw.payloads("trade"), what="the trade")[0]
    rest = rest_trades[0]
    assert trade == {
        "e": "trade",
        "E": trade["E"],
        "s": "BTCUSDT",
        "t": rest["id"],
        "p": rest["price"],
        "q": rest["qty"],
        "T": rest["time"],
        "m": rest["isBuyerMaker"],
        "M": True,
    }
    assert trade["E"] >= trade["T"]
    assert combined.wait(lambda: combined.payloads("trade", "btcusdt@trade"), what="the trade") == [trade]
    return rest


def _check_depth(stack, combined: StreamClient, live: StreamClient) -> None:
    depth = v3(stack, "depth", symbol="BTCUSDT")
    for client, stream in ((combined, "btcusdt@depth@100ms"), (live, None)):
        client.wait(lambda c=client, s=stream: _covers(c.payloads("depthUpdate", s), depth), what="the depth diffs")
        diffs = client.payloads("depthUpdate", stream)
        assert all(d["s"] == "BTCUSDT" and d["E"] > 0 for d in diffs)
        for previous, diff in zip(diffs, diffs[1:], strict=False):
            assert diff["U"] == previous["u"] + 1
        levels = {"b": {}, "a": {}}
        for diff in diffs:
            for side in "ba":
                levels[side].update(dict(diff[side]))
        assert [[p, q] for p, q in levels["a"].items() if q != "0"] == depth["asks"]
        assert sorted(([p, q] for p, q in levels["b"].items() if q != "0"), reverse=True) == depth["bids"]


def _check_tickers(stack, combined: StreamClient) -> None:
    ticker = v3(stack, "ticker/24hr", symbol="BTCUSDT")
    event = combined.wait(
        lambda: [t for t in combined.payloads("24hrTicker") if t["n"] == 1 and t["b"] == "29900"], what="the ticker"
    )[-1]
    assert (event["c"], event["Q"], event["v"], event["q"]) == ("30000", "0.2", "0.2", "6000")
    assert (event["b"], event["B"], event["a"], event["A"]) == ("29900", "0.1", "30000", "0.3")
    assert (event["F"], event["L"], event["o"], event["h"], event["l"]) == (
        ticker["firstId"],
        ticker["lastId"],
        ticker["openPrice"],
        ticker["highPrice"],
        ticker["lowPrice"],
    )
    mini = combined.wait(lambda: [m for m in combined.payloads("24hrMiniTicker") if m["v"] == "0.2"], what="mini")[-1]
    assert (mini["s"], mini["c"], mini["o"], mini["q"]) == ("BTCUSDT", "30000", "30000", "6000")


def _check_klines(stack, combined: StreamClient, live: StreamClient, rest: dict) -> None:
    for client, interval in ((combined, "1m"), (combined, "1w"), (live, "5m")):
        rows = v3(stack, "klines", symbol="BTCUSDT", interval=interval)
        kline = client.wait(
            lambda c=client, i=interval: [k["k"] for k in c.payloads("kline") if k["k"]["i"] == i and k["k"]["n"]],
            what=f"the {interval} kline",
        )[-1]
        row = rows[-1]
        assert [kline["t"], kline["o"], kline["h"], kline["l"], kline["c"], kline["v"], kline["T"]] == row[:7]
        assert (kline["q"], kline["n"], kline["f"], kline["L"], kline["s"]) == (
            row[7],
            row[8],
            rest["id"],
            rest["id"],
            "BTCUSDT",
        )


def _check_book_streams(stack, combined: StreamClient) -> None:
    """The local book's streams: the top of the book as of the last diff."""
    top = v3(stack, "depth", symbol="BTCUSDT", limit=5)

    def book_streams() -> tuple[dict, dict] | None:
        with combined._cond:
            found = {m["stream"]: m["data"] for m in combined.messages if "stream" in m}
        tickers, partial = found.get("btcusdt@bookTicker"), found.get("btcusdt@depth5@100ms")
        if tickers and partial and partial["lastUpdateId"] == top["lastUpdateId"]:
            return tickers, partial
        return None

    book_ticker, partial = combined.wait(book_streams, what="the book streams")
    assert partial == top
    assert book_ticker == {"u": book_ticker["u"], "s": "BTCUSDT", "b": "29900", "B": "0.1", "a": "30000", "A": "0.3"}
    assert book_ticker["u"] <= top["lastUpdateId"]


def _covers(diffs: list[dict], depth: dict) -> bool:
    return bool(diffs) and diffs[-1]["u"] >= depth["lastUpdateId"]


def test_subscribe_unsubscribe_list_and_the_combined_property(stack, live_market, make_live_trader, clients):
    market = live_market
    seller = make_live_trader(stack, market, base="1")
    buyer = make_live_trader(stack, market, quote="100000")

    def trade() -> None:
        assert seller.place(side="sell", type="limit", price="30000", quantity="0.1").status_code == 201
        assert buyer.place(side="buy", type="limit", price="30000", quantity="0.1").status_code == 201

    client = clients(stack, "/ws")
    watcher = clients(stack, "/ws/btcusdt@trade")

    assert client.call("LIST_SUBSCRIPTIONS")["result"] == []
    assert client.call("SUBSCRIBE", ["btcusdt@trade", "btcusdt@trade"], request_id="abc1") == {
        "result": None,
        "id": "abc1",
    }
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == ["btcusdt@trade"]
    trade()
    client.wait(lambda: client.payloads("trade"), what="a trade")

    # Combined property: the events of the same socket come in envelopes from now on.
    assert client.call("GET_PROPERTY", ["combined"])["result"] is False
    assert client.call("SET_PROPERTY", ["combined", True])["result"] is None
    assert client.call("GET_PROPERTY", ["combined"])["result"] is True
    trade()
    client.wait(lambda: client.payloads("trade", "btcusdt@trade"), what="a wrapped trade")

    assert client.call("UNSUBSCRIBE", ["btcusdt@trade", "btcusdt@depth"])["result"] is None
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == []
    seen = len(client.payloads("trade"))
    trade()
    wait_settled(market)
    watcher.wait(lambda: len(watcher.payloads("trade")) == 3, what="the third trade")
    time.sleep(0.3)  # the unsubscribed socket would have had it by now too
    assert len(client.payloads("trade")) == seen


def test_malformed_requests_get_binance_error_replies_and_floods_are_closed(stack, live_market, clients):
    client = clients(stack, "/ws")

    def error(request_id, **expected):
        return {"error": expected, "id": request_id}

    invalid = {"code": 2, "msg": "Invalid request: invalid stream"}
    assert client.call("SUBSCRIBE", ["btcusdt@nope"], request_id=5) == {"error": invalid, "id": 5}
    assert client.call("SUBSCRIBE", ["ethbtc@trade"])["error"] == invalid  # no such market
    assert client.call("SUBSCRIBE", ["BTCUSDT@trade"])["error"] == invalid  # symbols are lowercase
    assert client.call("SUBSCRIBE", ["btcusdt@kline_2m"])["error"] == invalid
    assert client.call("SUBSCRIBE", ["btcusdt@trade", 3])["error"] == invalid
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == []  # all or nothing
    assert client.call("SUBSCRIBE", "btcusdt@trade")["error"]["code"] == 2
    time.sleep(2)  # 5 requests a second: let the allowance refill
    assert client.call("PING")["error"] == {
        "code": 2,
        "msg": "Invalid request: unknown variant `PING`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
        "`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
    }
    assert client.call("SET_PROPERTY", ["colour", True])["error"] == {"code": 0, "msg": "Unknown property"}
    assert client.call("SET_PROPERTY", ["combined", "yes"])["error"] == {
        "code": 1,
        "msg": "Invalid value type: expected Boolean",
    }
    assert client.call("SET_PROPERTY", [1])["error"] == {
        "code": 2,
        "msg": "Invalid request: property name must be a string",
    }
    time.sleep(2)  # 5 requests a second: let the allowance refill

    replies = len(client.replies())
    bad_id = error(None, code=2, msg="Invalid request: request ID must be an unsigned integer")
    for message in (
        {"method": "LIST_SUBSCRIPTIONS", "id": 1.5},
        {"method": "LIST_SUBSCRIPTIONS", "id": "has space"},
        {"method": "LIST_SUBSCRIPTIONS"},
    ):
        client.send(message)
        assert client.last_reply(after=replies) == bad_id
        replies += 1
    client.send({"params": [], "id": 11})
    assert client.answer(11) == error(11, code=2, msg="Invalid request: missing field `method`")
    client.send({"method": "LIST_SUBSCRIPTIONS", "id": 12, "extra": 1})
    assert client.answer(12) == error(12, code=2, msg="Invalid request: too many parameters")
    time.sleep(2)
    replies = len(client.replies())
    client.send("{not json")
    reply = client.last_reply(after=replies)
    assert reply["id"] is None
    assert reply["error"]["code"] == 3
    assert reply["error"]["msg"] == "Invalid JSON: expecting property name enclosed in double quotes at line 1 column 2"
    client.send(b"\x00\x01")
    assert client.last_reply(after=replies + 1)["error"]["code"] == 3
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == []  # still open

    # More than 5 messages a second (bursts of 10) closes the connection, as Binance does.
    for _ in range(30):
        try:
            client.send({"method": "LIST_SUBSCRIPTIONS", "id": 99})
        except Exception:  # noqa: BLE001 - closed meanwhile
            break
    client.wait(lambda: client.closed, what="the close")
    assert client.conn.close_code == 4029


def test_unknown_names_in_the_url_are_ignored_as_binance_does(stack, live_market, clients):
    # ccxt.pro opens /ws/0 and subscribes over the socket.
    client = clients(stack, "/ws/0")
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == []
    mixed = clients(stack, "/stream?streams=btcusdt@trade/nope/ethbtc@trade")
    assert mixed.call("LIST_SUBSCRIPTIONS")["result"] == ["btcusdt@trade"]
    assert clients(stack, "/ws/v1/").request({"op": "ping"})["op"] == "pong"  # the project's feed is still there


def test_binance_local_book_recipe_under_random_order_flow_ends_equal_to_depth(
    stack, live_market, make_live_trader, clients
):
    market = live_market
    client = clients(stack, "/ws/btcusdt@depth")
    assert client.call("LIST_SUBSCRIPTIONS")["result"] == ["btcusdt@depth"]
    partial = clients(stack, "/ws/btcusdt@depth20")
    assert partial.call("LIST_SUBSCRIPTIONS")["result"] == ["btcusdt@depth20"]
    flow = [make_live_trader(stack, market, base="40", quote="1500000") for _ in range(4)]
    errors: list = []
    threads = [
        threading.Thread(target=_random_flow, args=(t, market.symbol), kwargs={"ops": 100, "seed": i, "errors": errors})
        for i, t in enumerate(flow)
    ]
    for t in threads:
        t.start()
    # Binance's recipe: buffer the events, note the first U, take a snapshot no older than it.
    first = client.wait(lambda: client.payloads("depthUpdate"), timeout=60, what="the first event")[0]
    snapshot = v3(stack, "depth", symbol="BTCUSDT", limit=5000)
    while snapshot["lastUpdateId"] < first["U"]:
        snapshot = v3(stack, "depth", symbol="BTCUSDT", limit=5000)
    book = BinanceBook(snapshot)
    applied = 0

    def catch_up() -> None:
        nonlocal applied
        events = client.payloads("depthUpdate")
        for event in events[applied:]:
            book.apply(event)
        applied = len(events)

    while any(t.is_alive() for t in threads):
        catch_up()
        time.sleep(0.05)  # pacing: apply events while the writers run, not a wait
    for t in threads:
        t.join()
    assert errors == []
    wait_settled(market)
    # A marker far from the market: once its level is in the book, every earlier event was applied.
    assert flow[0].place(side="sell", type="limit", price="39999", quantity="0.001").status_code == 201
    wait_settled(market)

    def has_marker() -> bool:
        catch_up()
        return "39999" in book.asks

    client.wait(has_marker, timeout=30, what="the marker level")
    final = v3(stack, "depth", symbol="BTCUSDT", limit=5000)
    catch_up()
    assert book.update_id == final["lastUpdateId"]
    assert book.levels() == (final["bids"], final["asks"])
    assert book.applied > 10
    # The partial book the ws process keeps from the same diffs ends on the same top 20.
    top = v3(stack, "depth", symbol="BTCUSDT", limit=20)
    last = partial.wait(
        lambda: [m for m in partial.messages if m.get("lastUpdateId") == top["lastUpdateId"]], what="the top 20"
    )[-1]
    assert last == top
