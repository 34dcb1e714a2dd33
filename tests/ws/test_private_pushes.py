"""Balance changes and new orders made outside the matcher reach their owner's socket.

Every committed wallet change (an order's lock, deposits, withdrawals) is pushed on
``balances`` and a new order on ``orders``, by the real services, the real wallet
hook and the in-process publisher; the clients are ``WebsocketCommunicator``s and
the changes are made over REST wherever the API offers it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal as D

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.roles import BACK_OFFICE
from exchange_site import events as domain_events
from exchange_site.events import OrderPlaced, WalletsChanged
from markets.models import Market
from matching.runner import batch_event
from matching.worker import MarketMatcher
from realtime.publisher import publisher
from realtime.routing import websocket_urlpatterns
from realtime.subscribers import batch_publish, order_publish
from tests.backoffice.helpers import enable_2fa, fresh_otp, make_staff
from tests.factories import CurrencyFactory, MarketFactory, UserFactory, fund
from tests.wallets.helpers import sign
from trading.services import OrderRequest, order_place
from wallets.deposits import deposit_address_get
from wallets.manual_deposits import manual_deposit_approve, manual_deposit_propose
from wallets.models import LedgerEntry, Wallet
from wallets.services import BalanceChange, wallet_apply_changes
from wallets.settlement import market_settle_all

from .helpers import access_token

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)
PRIVATE = ["orders", "fills", "balances"]
QUIET_SECONDS = 0.5
DEPOSIT = LedgerEntry.Kind.DEPOSIT


def rest(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def call(func: Callable, *args, **kwargs):
    """Run a synchronous (database) call from the test's event loop."""
    return database_sync_to_async(func)(*args, **kwargs)


def settled_fixtures() -> None:
    """Let the pushes of the fixtures' own deposits go out before any client subscribes."""
    assert publisher().flush(10)


async def connected(user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws/v1/")
    assert (await ws.connect())[0]
    await ws.send_json_to({"op": "auth", "token": access_token(user)})
    assert await ws.receive_json_from(timeout=5) == {"op": "authenticated"}
    await ws.send_json_to({"op": "subscribe", "channels": PRIVATE})
    assert await ws.receive_json_from(timeout=5) == {"op": "subscribed", "channels": PRIVATE}
    return ws


async def events_until(ws: WebsocketCommunicator, done: Callable[[list[dict]], bool]) -> list[dict]:
    """Receive until ``done``, then make sure nothing else arrives."""
    events: list[dict] = []
    while not done(events):
        events.append(await ws.receive_json_from(timeout=10))
    assert await ws.receive_nothing(timeout=QUIET_SECONDS), "no event after the expected ones"
    return events


def counted(**expected: int) -> Callable[[list[dict]], bool]:
    def done(events: list[dict]) -> bool:
        return all(sum(e["channel"] == channel for e in events) >= n for channel, n in expected.items())

    return done


def data(events: list[dict], channel: str) -> list[dict]:
    return [e["data"] for e in events if e["channel"] == channel]


def rest_balance(user, code: str) -> dict:
    [row] = [b for b in rest(user).get("/api/v1/balances").json() if b["currency"] == code]
    return row


async def one_balance(ws: WebsocketCommunicator, owner, code: str) -> dict:
    """Exactly one ``balances`` event (nothing else) and it equals the REST balance."""
    events = await events_until(ws, counted(balances=1))
    assert [e["channel"] for e in events] == ["balances"]
    [pushed] = data(events, "balances")
    assert pushed == await call(rest_balance, owner, code)
    return pushed


# -- orders --------------------------------------------------------------------------


@pytest.fixture
def market(transactional_db) -> Market:
    return MarketFactory()


@pytest.fixture
def trader(market):
    user = UserFactory()
    fund(user, market.quote, "100000")
    fund(user, market.base, "1")
    return user


@pytest.fixture
def other(market):
    user = UserFactory()
    fund(user, market.quote, "5000")
    return user


def post_order(user, **body) -> tuple[int, dict]:
    payload = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "30000", "quantity": "0.1", **body}
    response = rest(user).post("/api/v1/orders", payload, format="json")
    return response.status_code, response.json()


def test_a_placed_order_pushes_it_as_new_and_its_locked_funds_to_the_owner_only(trader, other):
    settled_fixtures()

    async def scenario():
        ws_trader, ws_other = await connected(trader), await connected(other)
        status, body = await call(post_order, trader)
        events = await events_until(ws_trader, counted(orders=1, balances=1))
        assert await ws_other.receive_nothing(timeout=QUIET_SECONDS)
        rest_order = (await call(lambda: rest(trader).get(f"/api/v1/orders/{body['id']}"))).json()
        balance = await call(rest_balance, trader, "USDT")
        for ws in (ws_trader, ws_other):
            await ws.disconnect()
        return status, body, events, rest_order, balance

    status, body, events, rest_order, balance = asyncio.run(scenario())
    assert status == 201
    assert sorted(e["channel"] for e in events) == ["balances", "orders"]
    [pushed_order] = data(events, "orders")
    assert pushed_order["status"] == "new"
    assert pushed_order == body == rest_order, "the REST order object, as the 201 answered it"
    [pushed_balance] = data(events, "balances")
    assert pushed_balance == balance
    assert (pushed_balance["balance"], pushed_balance["locked"], pushed_balance["available"]) == (
        "100000",
        "3000",
        "97000",
    )


def test_a_sell_order_pushes_the_base_currency_lock(trader):
    settled_fixtures()

    async def scenario():
        ws = await connected(trader)
        status, body = await call(post_order, trader, side="sell", price="31000", quantity="0.25")
        events = await events_until(ws, counted(orders=1, balances=1))
        balance = await call(rest_balance, trader, "BTC")
        await ws.disconnect()
        return status, body, events, balance

    status, body, events, balance = asyncio.run(scenario())
    assert status == 201
    assert data(events, "orders") == [body]
    assert data(events, "balances") == [balance]
    assert (balance["balance"], balance["locked"]) == ("1", "0.25")


def test_an_idempotent_order_retry_pushes_nothing(trader):
    settled_fixtures()

    async def scenario():
        ws = await connected(trader)
        first = await call(post_order, trader, client_order_id="bot-1")
        await events_until(ws, counted(orders=1, balances=1))
        again = await call(post_order, trader, client_order_id="bot-1")
        assert await ws.receive_nothing(timeout=QUIET_SECONDS)
        await ws.disconnect()
        return first, again

    (first_status, first), (again_status, again) = asyncio.run(scenario())
    assert (first_status, again_status) == (201, 200)
    assert again["id"] == first["id"]


def test_a_refused_order_pushes_nothing(trader):
    settled_fixtures()

    async def scenario():
        ws = await connected(trader)
        status, body = await call(post_order, trader, quantity="100")  # 3,000,000 USDT: too much
        assert await ws.receive_nothing(timeout=QUIET_SECONDS)
        await ws.disconnect()
        return status, body

    status, body = asyncio.run(scenario())
    assert (status, body["error"]["code"]) == (400, "insufficient_funds")


@database_sync_to_async
def match_and_settle(market: Market) -> None:
    """The matcher's batches, published like the runner does, then settlement."""
    matcher = MarketMatcher(market.pk)
    while (result := matcher.run_batch()) is not None:
        batch_publish(batch_event(result))
    market_settle_all(market_id=market.pk)


def test_settlement_pushes_each_changed_wallet_once(market, trader, other):
    seller = UserFactory()
    fund(seller, market.base, "1")
    settled_fixtures()

    async def scenario():
        ws_seller, ws_buyer = await connected(seller), await connected(trader)
        await call(post_order, seller, side="sell", price="30000", quantity="0.5")
        await call(post_order, trader, side="buy", price="30000", quantity="0.2")
        placed = [await events_until(ws, counted(orders=1, balances=1)) for ws in (ws_seller, ws_buyer)]
        await match_and_settle(market)
        # The matcher's order updates, then settlement's fill and both currencies.
        settled = [await events_until(ws, counted(orders=1, fills=1, balances=2)) for ws in (ws_seller, ws_buyer)]
        balances = [
            {code: await call(rest_balance, user, code) for code in ("BTC", "USDT")} for user in (seller, trader)
        ]
        for ws in (ws_seller, ws_buyer):
            await ws.disconnect()
        return placed, settled, balances

    placed, settled, balances = asyncio.run(scenario())
    for placed_events in placed:
        assert [o["status"] for o in data(placed_events, "orders")] == ["new"]
    for events, rest_balances in zip(settled, balances, strict=True):
        pushed = data(events, "balances")
        assert sorted(b["currency"] for b in pushed) == ["BTC", "USDT"], "one event per wallet, none twice"
        assert {b["currency"]: b for b in pushed} == rest_balances
        channels = [e["channel"] for e in events]
        assert channels.index("fills") < channels.index("balances"), "a settlement's fills come before its balances"
    assert [o["status"] for o in data(settled[0], "orders")] == ["partially_filled"]
    assert [o["status"] for o in data(settled[1], "orders")] == ["filled"]


# -- deposits --------------------------------------------------------------------------


def custody_notice(user, currency, *, amount: str, txid: str, confirmations: int) -> int:
    address = deposit_address_get(user=user, currency=currency).address
    body = json.dumps(
        {"currency": currency.code, "address": address, "amount": amount, "txid": txid, "confirmations": confirmations}
    ).encode()
    response = APIClient().post(
        "/api/v1/custody/deposits", data=body, content_type="application/json", HTTP_X_CUSTODY_SIGNATURE=sign(body)
    )
    return response.status_code


def test_a_custody_deposit_pushes_the_balance_once_when_credited(market, other):
    usdt = market.quote
    assert usdt.min_confirmations == 2
    settled_fixtures()

    async def scenario():
        ws = await connected(other)
        assert await call(custody_notice, other, usdt, amount="250.5", txid="tx-a", confirmations=1) in (200, 201)
        assert await ws.receive_nothing(timeout=QUIET_SECONDS), "a pending deposit changes no balance"
        assert await call(custody_notice, other, usdt, amount="250.5", txid="tx-a", confirmations=2) == 200
        pushed = await one_balance(ws, other, "USDT")
        assert await call(custody_notice, other, usdt, amount="250.5", txid="tx-a", confirmations=3) == 200
        assert await ws.receive_nothing(timeout=QUIET_SECONDS), "credited once, pushed once"
        await ws.disconnect()
        return pushed

    pushed = asyncio.run(scenario())
    assert (pushed["balance"], pushed["locked"], pushed["available"]) == ("5250.5", "0", "5250.5")


def test_a_manual_deposit_pushes_the_balance_on_approval_only(market, other):
    usdt = market.quote
    proposer, approver = make_staff(BACK_OFFICE), make_staff(BACK_OFFICE)
    settled_fixtures()

    async def scenario():
        ws = await connected(other)
        proposal = await call(
            manual_deposit_propose, actor=proposer, user=other, currency=usdt, amount=D("40"), reason="wire 7"
        )
        assert await ws.receive_nothing(timeout=QUIET_SECONDS), "a proposal credits nothing"
        await call(manual_deposit_approve, actor=approver, manual_deposit_id=proposal.pk)
        pushed = await one_balance(ws, other, "USDT")
        await ws.disconnect()
        return pushed

    pushed = asyncio.run(scenario())
    assert (pushed["balance"], pushed["locked"]) == ("5040", "0")


# -- withdrawals ----------------------------------------------------------------------


@pytest.fixture
def eth(transactional_db):
    return CurrencyFactory(
        code="ETH", name="Ether", withdrawal_fee=D("0.01"), min_withdrawal=D("0.1"), min_confirmations=1
    )


@pytest.fixture
def withdrawer(eth):
    user = UserFactory()
    enable_2fa(user)
    fund(user, eth, "10")
    return user


def request_withdrawal(user, amount: str) -> dict:
    body = {"currency": "ETH", "amount": amount, "address": "0xexampleaddress0001", "otp": fresh_otp(user)}
    response = rest(user).post("/api/v1/withdrawals", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def post_ok(user, path: str, body: dict | None = None) -> dict:
    response = rest(user).post(path, body or {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_each_withdrawal_step_that_moves_funds_pushes_the_owner_balance(withdrawer):
    officer, officer2 = make_staff(BACK_OFFICE), make_staff(BACK_OFFICE)
    settled_fixtures()
    office = "/api/v1/backoffice/withdrawals"

    async def scenario():
        ws = await connected(withdrawer)
        ws_officer = await connected(officer)
        steps: dict[str, dict] = {}

        first = await call(request_withdrawal, withdrawer, "1")
        steps["request"] = await one_balance(ws, withdrawer, "ETH")
        await call(post_ok, withdrawer, f"/api/v1/withdrawals/{first['id']}/cancel")
        steps["cancel"] = await one_balance(ws, withdrawer, "ETH")

        second = await call(request_withdrawal, withdrawer, "2")
        steps["request again"] = await one_balance(ws, withdrawer, "ETH")
        await call(post_ok, officer, f"{office}/{second['id']}/reject", {"reason": "address on a block list"})
        steps["reject"] = await one_balance(ws, withdrawer, "ETH")

        third = await call(request_withdrawal, withdrawer, "3")
        steps["request a third"] = await one_balance(ws, withdrawer, "ETH")
        approved = await call(post_ok, officer, f"{office}/{third['id']}/approve")
        assert approved["status"] == "approved"
        assert await ws.receive_nothing(timeout=QUIET_SECONDS), "an approval moves no funds"
        sent = await call(post_ok, officer2, f"{office}/{third['id']}/sent", {"txid": "0xpayout"})
        assert sent["status"] == "completed"
        steps["mark sent"] = await one_balance(ws, withdrawer, "ETH")
        assert await ws_officer.receive_nothing(timeout=QUIET_SECONDS), "staff see nobody else's balances"
        for client in (ws, ws_officer):
            await client.disconnect()
        return steps

    steps = asyncio.run(scenario())
    assert {step: (b["balance"], b["locked"], b["available"]) for step, b in steps.items()} == {
        "request": ("10", "1.01", "8.99"),
        "cancel": ("10", "0", "10"),
        "request again": ("10", "2.01", "7.99"),
        "reject": ("10", "0", "10"),
        "request a third": ("10", "3.01", "6.99"),
        "mark sent": ("6.99", "0", "6.99"),
    }


# -- the hook itself: one callback per transaction, after commit ------------------------


@pytest.fixture
def announced():
    """The wallet pks each after-commit announcement carried, in order."""
    calls: list[list[int]] = []

    def record(event: WalletsChanged) -> None:
        calls.append(event.wallet_ids)

    domain_events.subscribe(WalletsChanged, record)
    yield calls
    domain_events.unsubscribe(WalletsChanged, record)


def test_the_wallets_of_one_transaction_are_announced_once_and_only_after_commit(market, trader, other, announced):
    usdt, btc = market.quote, market.base
    with transaction.atomic():
        wallet_apply_changes(changes=[BalanceChange(trader.pk, usdt.pk, DEPOSIT, amount=D("1"))])
        wallet_apply_changes(
            changes=[
                BalanceChange(other.pk, usdt.pk, DEPOSIT, amount=D("2")),
                BalanceChange(trader.pk, btc.pk, DEPOSIT, amount=D("3")),
            ]
        )
        assert announced == [], "nothing before commit"
    wallets = Wallet.objects.filter(user__in=[trader, other]).exclude(user=other, currency=btc)
    assert announced == [sorted(w.pk for w in wallets)], "one announcement for the transaction"


def _change_then_fail(trader, usdt, reason: str) -> None:
    """Credit 1 in an atomic block (a savepoint when nested), then fail so the block rolls back."""
    with transaction.atomic():
        wallet_apply_changes(changes=[BalanceChange(trader.pk, usdt.pk, DEPOSIT, amount=D("1"))])
        raise RuntimeError(reason)


def test_a_rolled_back_change_is_not_announced_and_the_next_transaction_is(market, trader, announced):
    usdt = market.quote
    wallet = Wallet.objects.get(user=trader, currency=usdt)
    with pytest.raises(RuntimeError, match="the caller fails"):
        _change_then_fail(trader, usdt, "the caller fails after the change")
    assert announced == []
    with transaction.atomic():
        # A savepoint that rolls back takes its after-commit callback with it...
        with pytest.raises(RuntimeError, match="the inner block fails"):
            _change_then_fail(trader, usdt, "the inner block fails")
        # ...so the next change of the same transaction registers a new one.
        wallet_apply_changes(changes=[BalanceChange(trader.pk, usdt.pk, DEPOSIT, amount=D("2"))])
    assert announced == [[wallet.pk]]
    wallet.refresh_from_db()
    assert wallet.balance == D("100002")


def test_settlement_leaves_its_wallets_to_its_own_publish(market, trader, announced):
    seller = UserFactory()
    fund(seller, market.base, "1")
    for user, side in ((seller, "sell"), (trader, "buy")):
        request = OrderRequest(side=side, type="limit", price=D("30000"), quantity=D("0.1"))
        order_place(user_id=user.pk, market=market, order=request)
    MarketMatcher(market.pk).run_batch()
    announced.clear()
    assert market_settle_all(market_id=market.pk) == 1
    assert announced == [], "settlement's hook publishes them, with its fills"


def test_a_new_order_that_reaches_the_publisher_after_its_batch_is_not_pushed(market, trader):
    """The matcher also polls, so it may publish an order before the request's own push is queued."""
    settled_fixtures()

    async def scenario():
        ws = await connected(trader)
        order, _ = await call(
            order_place,
            user_id=trader.pk,
            market=market,
            order=OrderRequest(side="buy", type="limit", price=D("30000"), quantity=D("1")),
        )
        placed = await events_until(ws, counted(orders=1, balances=1))
        await match_and_settle(market)
        rested = await events_until(ws, counted(orders=1))
        order_publish(OrderPlaced(order=order))  # the `new` snapshot, late
        assert await ws.receive_nothing(timeout=QUIET_SECONDS)
        await ws.disconnect()
        return placed, rested

    placed, rested = asyncio.run(scenario())
    assert [o["status"] for o in data(placed, "orders")] == ["new"]
    assert [o["status"] for o in data(rested, "orders")] == ["open"]
