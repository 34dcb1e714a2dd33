"""The WebSocket tier at scale: batched trades, slow consumers, several ws processes, one killed.

Real processes: ``manage.py run_ws`` (daphne children on one port), and the ``stack``
(daphne for REST, run_matcher, a Celery worker) on PostgreSQL + channels-redis.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from realtime import frames as rt_frames
from tests.factories import UserFactory
from tests.integration.stack import LOG_DIR, process_env, wait_settled
from tools.harness import Harness
from tools.waiting import wait_until

from . import scenarios
from .helpers import LocalBook, WsClient

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


class WsTier:
    """The ws process of a harness (``manage.py run_ws``) and the daphne children it runs."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    @property
    def port(self) -> int:
        return self.harness.port("ws")

    @property
    def url(self) -> str:
        return self.harness.url("ws")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v1/"

    def children(self) -> list[int]:
        pid = self.harness.pid("ws")
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def wait_ready(self, processes: int, timeout: float = 60) -> None:
        self.harness.wait_http("ws", timeout=timeout)
        wait_until(lambda: len(self.children()) == processes, timeout, what=f"run_ws to start {processes} processes")

    def owner(self, client: WsClient) -> int:
        """The pid of the daphne child holding ``client``'s connection (from /proc/net/tcp)."""
        client_port = client.conn.socket.getsockname()[1]
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            if local_port == self.port and remote_port == client_port:
                inode = fields[9]
        assert inode is not None, "the server side of the connection was not found"
        for pid in self.children():
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
                except OSError:
                    continue
        raise AssertionError("no ws child holds the connection")


@pytest.fixture
def ws_tier(transactional_db, flush_redis):
    """Start a ws tier of ``processes`` daphnes (alone, or replacing a stack's ws process)."""
    harnesses: list[Harness] = []

    def _start(processes: int, stack=None, **env: str) -> WsTier:
        if stack is None:
            harness = Harness(env=process_env(), log_dir=LOG_DIR, log_prefix="tier-")
            harnesses.append(harness)
        else:
            harness = stack.harness
            harness.stop("ws")
        harness.start("ws", "--processes", str(processes), env=env)
        tier = WsTier(harness)
        tier.wait_ready(processes)
        return tier

    yield _start
    for harness in harnesses:
        harness.stop_all()


def _subscribe(client: WsClient, channels: list[str], **extra) -> None:
    assert client.request({"op": "subscribe", "channels": channels, **extra})["op"] == "subscribed"


def _trade(seller, buyer, price: str = "30000", quantity: str = "0.01") -> None:
    assert seller.place(side="sell", type="limit", price=price, quantity=quantity).status_code == 201
    assert buyer.place(side="buy", type="limit", price=price, quantity=quantity).status_code == 201


def test_batched_trades_carry_every_trade_and_the_plain_contract_is_unchanged(
    stack, live_market, make_live_trader, ws_client
):
    market = live_market
    trades, depth = f"trades:{market.symbol}", f"depth:{market.symbol}"
    plain, batched = ws_client(stack), ws_client(stack)
    _subscribe(plain, [trades, depth])
    _subscribe(batched, [trades, depth], batch=True)
    answer = batched.request({"op": "subscribe", "channels": [trades], "batch": "yes"})
    assert (answer["op"], answer["code"]) == ("error", "invalid_message")
    seller = make_live_trader(stack, market, base="10")
    buyer = make_live_trader(stack, market, quote="1000000")
    for _ in range(6):
        _trade(seller, buyer)
    wait_settled(market)
    plain.wait(lambda: len(plain.events(trades)) == 6, what="six trades")
    batched.wait(lambda: sum(len(d) for d in batched.data(trades)) == 6, what="six batched trades")

    per_trade = plain.data(trades)
    assert all(isinstance(d, dict) for d in per_trade)
    frames = batched.events(trades)
    assert all(isinstance(f["data"], list) and f["data"] and isinstance(f["event_time"], int) for f in frames)
    assert [t for f in frames for t in f["data"]] == per_trade
    # Depth is the same for both: batching is for trades only.
    assert batched.data(depth) == plain.data(depth)


def test_a_subscriber_that_stops_reading_is_closed_with_4008_and_holds_up_nobody(live_market, ws_tier, ws_client):
    market = live_market
    tier = ws_tier(1, WS_SEND_QUEUE_MAX_BYTES="65536")
    channel = f"trades:{market.symbol}"
    reader = ws_client(tier)
    _subscribe(reader, [channel])
    # A client that reads its subscription answer, then nothing: a tiny receive buffer and
    # a client library that stops reading the socket when one message is waiting.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", tier.port))
    slow = connect(tier.url.replace("http://", "ws://") + "/ws/v1/", sock=raw, max_queue=1, max_size=None, legacy=True)
    slow.send(json.dumps({"op": "subscribe", "channels": [channel]}))
    assert json.loads(slow.recv(timeout=10))["op"] == "subscribed"

    # 8 MB of trade frames through the real channel layer, as the publisher sends them.
    layer = get_channel_layer()
    group = rt_frames.public_group("trades", market.pk)
    padding = "x" * 2000
    total = 0
    for _ in range(80):
        frames = []
        for _ in range(50):
            total += 1
            data = {"id": total, "price": "1", "quantity": "1", "taker_side": "buy", "time": padding}
            frames.append([channel, rt_frames.frame(channel, int(time.time() * 1000), data)])
        async_to_sync(layer.group_send)(group, {"type": rt_frames.FRAMES, "group": group, "frames": frames})

    # The reader that keeps up gets everything, in order, while the slow one is stuck.
    reader.wait(lambda: len(reader.events(channel)) == total, timeout=60, what="every frame")
    assert [d["id"] for d in reader.data(channel)] == list(range(1, total + 1))
    # The slow client, reading again, finds what was sent before the close, then the close.
    received: list[dict] = []
    with pytest.raises(ConnectionClosed) as closed:
        _read_until_closed(slow, into=received)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4008
    assert "slow consumer" in closed.value.rcvd.reason
    assert len(received) < total
    # The tier still serves new subscribers.
    late = ws_client(tier)
    assert late.request({"op": "ping"}) == {"op": "pong"}


def _read_until_closed(client, *, into: list) -> None:
    """Read frames into ``into`` until the server closes the socket (ConnectionClosed propagates)."""
    while True:
        into.append(json.loads(client.recv(timeout=30)))


def _clients_on_every_process(tier: WsTier, ws_client, channels: list[str], want: int = 3) -> dict[int, list]:
    """Open clients until each ws process holds at least ``want`` of them (the kernel spreads connections)."""
    by_owner: dict[int, list[WsClient]] = {pid: [] for pid in tier.children()}
    for _ in range(60):
        if all(len(v) >= want for v in by_owner.values()):
            break
        client = ws_client(tier)
        _subscribe(client, channels)
        by_owner.setdefault(tier.owner(client), []).append(client)
    assert all(len(v) >= want for v in by_owner.values()), {k: len(v) for k, v in by_owner.items()}
    return by_owner


def test_clients_on_two_ws_processes_get_the_same_events(stack, live_market, make_live_trader, ws_tier, ws_client):
    market = live_market
    tier = ws_tier(2, stack)
    trades, depth = f"trades:{market.symbol}", f"depth:{market.symbol}"
    by_owner = _clients_on_every_process(tier, ws_client, [trades, depth], want=2)
    assert len(by_owner) == 2
    clients = [c for group in by_owner.values() for c in group]
    seller = make_live_trader(stack, market, base="10")
    buyer = make_live_trader(stack, market, quote="1000000")
    for i in range(5):
        _trade(seller, buyer, price=str(30000 + i))
    wait_settled(market)
    for client in clients:
        client.wait(lambda c=client: len(c.events(trades)) == 5, what="five trades")
    time.sleep(0.5)  # the subject: a held depth diff goes out within the flush interval
    first = clients[0]
    for client in clients[1:]:
        assert client.events(trades) == first.events(trades)
        assert client.events(depth) == first.events(depth)


def _reconnect(ws_client, tier, attempts: int = 10):
    """Open a client, retrying a failed handshake as a real client's reconnect loop does."""
    for attempt in range(attempts):
        try:
            return ws_client(tier)
        except (OSError, InvalidHandshake):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)  # a client's reconnect back-off, not a wait
    raise AssertionError("unreachable")


def test_a_killed_ws_process_loses_only_its_own_clients(stack, live_market, make_live_trader, ws_tier, ws_client):
    market = live_market
    tier = ws_tier(2, stack)
    trades, depth = f"trades:{market.symbol}", f"depth:{market.symbol}"
    by_owner = _clients_on_every_process(tier, ws_client, [trades, depth], want=2)
    victim, survivor = list(by_owner)
    seller = make_live_trader(stack, market, base="10")
    buyer = make_live_trader(stack, market, quote="1000000")
    stop = threading.Event()
    placed: list[int] = []

    def flow() -> None:
        i = 0
        while not stop.is_set() and i < 40:
            _trade(seller, buyer, price=str(30000 + i % 7), quantity="0.01")
            # a resting order per round, so every batch changes the book
            assert seller.place(side="sell", type="limit", price=str(31000 + i), quantity="0.001").status_code == 201
            placed.append(i)
            i += 1
            time.sleep(0.05)  # pacing of the order flow, not a wait

    thread = threading.Thread(target=flow)
    thread.start()
    try:
        by_owner[survivor][0].wait(lambda: len(by_owner[survivor][0].events(trades)) >= 5, what="trades flowing")
        os.kill(victim, signal.SIGKILL)
        for client in by_owner[victim]:
            client.wait(lambda c=client: c.closed, what="the dropped connection")
        # They reconnect and resync by the recipe. Like any client after a dropped connection,
        # they retry a handshake that fails while the launcher replaces the killed process.
        back = _reconnect(ws_client, tier)
        _subscribe(back, [trades, depth])
        back.wait(lambda: len(back.events(depth)) >= 1, timeout=30, what="a diff after reconnecting")
        snapshot = scenarios.stack_get(stack, f"/api/v1/markets/{market.symbol}/depth?limit=500")
    finally:
        thread.join()
        stop.set()
    wait_settled(market)
    marker = seller.place(side="sell", type="limit", price="39999", quantity="0.001")
    assert marker.status_code == 201
    wait_settled(market)
    for client in [back, *by_owner[survivor]]:
        client.wait(lambda c=client: any("39999" in [p for p, _ in d["asks"]] for d in c.data(depth)), what="marker")
    final = scenarios.stack_get(stack, f"/api/v1/markets/{market.symbol}/depth?limit=500")

    book = LocalBook(snapshot)
    for diff in back.data(depth):
        book.apply(diff)
    assert book.sequence == final["sequence"]
    assert book.levels() == (final["bids"], final["asks"])

    # The other process's clients noticed nothing: every trade, and an unbroken depth chain.
    from markets.models import Trade

    all_trades = list(Trade.objects.filter(market=market).order_by("id").values_list("id", flat=True))
    for client in by_owner[survivor]:
        assert not client.closed
        assert [t["id"] for t in client.data(trades)] == all_trades
        diffs = client.data(depth)
        for previous, diff in zip(diffs, diffs[1:], strict=False):
            assert diff["first_sequence"] == previous["sequence"] + 1


def test_private_channels_and_limits_hold_on_a_two_process_ws_tier(
    stack, live_market, make_live_trader, ws_tier, ws_client
):
    """The live scenarios again, with both ws processes holding some of the clients."""
    tier = ws_tier(2, stack)
    owners: list[int] = []

    def spread_client(target) -> WsClient:
        # Alternate the processes: open until the next client lands on the other one.
        for _ in range(30):
            client = ws_client(target)
            owner = tier.owner(client)
            if not owners or owner != owners[-1]:
                owners.append(owner)
                return client
            client.close()
        raise AssertionError("the kernel kept every connection on one process")

    scenarios.public_and_private_streams(stack, live_market, make_live_trader, spread_client)
    scenarios.auth_failures_and_malformed_frames(stack, UserFactory(), spread_client)
    assert len(set(owners)) == 2
