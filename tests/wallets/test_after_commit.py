"""House rule 7: side effects wait for the commit. Nothing is announced before it, exactly what is expected after.

Each test runs a writer inside ``django_capture_on_commit_callbacks``: the test's
transaction never commits, so the callbacks are captured, not run. Right after the
writer returns the test checks that no reader heard anything yet; then it runs the
captured callbacks, as the commit would, and checks what each reader was told.

Readers are ``exchange_site.events`` subscribers: the ``heard`` fixture subscribes to
the events the writers announce and records them in the order they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest
from django.db import connection

from accounts.roles import BACK_OFFICE
from accounts.selectors import fee_account
from exchange_site import events
from exchange_site.events import NoticeDue, OrderPlaced, TradesSettled, WalletsChanged
from markets.models import Order
from matching import wakeup
from tests.backoffice.helpers import make_staff, make_trader, request_withdrawal
from tests.factories import MarketFactory, UserFactory, run_matcher
from tests.mail import eager_tasks
from wallets.models import Wallet
from wallets.services import InsufficientFunds
from wallets.settlement import market_settle
from wallets.withdrawals import withdrawal_approve, withdrawal_mark_sent, withdrawal_reject

from .helpers import deposit, place

pytestmark = pytest.mark.django_db


@dataclass
class Heard:
    """What the readers were told, in order: event class names, changed wallets, settlements, wake-ups."""

    log: list[str] = field(default_factory=list)
    wallets: list[list[int]] = field(default_factory=list)
    settlements: list = field(default_factory=list)

    def wallets_changed(self, event: WalletsChanged) -> None:
        self.log.append("WalletsChanged")
        self.wallets.append(event.wallet_ids)

    def settled(self, event: TradesSettled) -> None:
        self.log.append("TradesSettled")
        self.settlements.append(event)

    def placed(self, event: OrderPlaced) -> None:
        self.log.append("OrderPlaced")

    def noticed(self, event: NoticeDue) -> None:
        self.log.append(f"NoticeDue:{event.kind}")

    @property
    def woken(self) -> bool:
        return wakeup._local_event.is_set()

    @property
    def nothing(self) -> bool:
        return not self.log and not self.woken


@pytest.fixture
def heard():
    heard = Heard()
    wakeup._local_event.clear()
    subscriptions = [
        (WalletsChanged, heard.wallets_changed),
        (TradesSettled, heard.settled),
        (OrderPlaced, heard.placed),
        (NoticeDue, heard.noticed),
    ]
    for event_type, handler in subscriptions:
        events.subscribe(event_type, handler)
    yield heard
    for event_type, handler in subscriptions:
        events.unsubscribe(event_type, handler)


def setup_done(heard: Heard) -> None:
    """Treat the setup as committed before the test: forget its pending callbacks and what it announced.

    The whole test is one transaction that never commits, so without this the writer under
    test would join the setup's pending wallet announcement instead of making its own.
    Rebinding the list is what Django itself does when a savepoint rolls back.
    """
    connection.run_on_commit = []
    heard.log.clear()
    heard.wallets.clear()
    heard.settlements.clear()
    wakeup._local_event.clear()


def commit(callbacks: list[Callable]) -> None:
    """Run the captured callbacks in order, as the commit would have."""
    for callback in callbacks:
        callback()


def wallet_pks(*pairs) -> list[int]:
    return sorted(Wallet.objects.get(user=user, currency=currency).pk for user, currency in pairs)


# -- order placement ----------------------------------------------------------------------


def test_order_place_announces_the_lock_the_order_and_a_wake_up_only_after_commit(
    django_capture_on_commit_callbacks, heard
):
    market, trader = MarketFactory(), UserFactory()
    deposit(trader, market.quote, "1000")
    setup_done(heard)

    with django_capture_on_commit_callbacks() as callbacks:
        order = place(trader, market, Order.Side.BUY, price="100", quantity="2")
        assert heard.nothing, "announced before commit"

    commit(callbacks)
    assert heard.log == ["WalletsChanged", "OrderPlaced"]
    assert heard.wallets == [wallet_pks((trader, market.quote))]
    assert heard.woken
    assert heard.settlements == []
    assert order.status == Order.Status.NEW


def test_a_refused_order_announces_nothing(django_capture_on_commit_callbacks, heard):
    market, trader = MarketFactory(), UserFactory()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InsufficientFunds):
        place(trader, market, Order.Side.BUY, price="100", quantity="2")
    assert callbacks == []
    assert heard.nothing


# -- settlement ----------------------------------------------------------------------------


def test_settlement_announces_its_run_once_after_commit_and_no_wallets_of_its_own(
    django_capture_on_commit_callbacks, heard
):
    market, buyer, seller = MarketFactory(), UserFactory(), UserFactory()
    deposit(buyer, market.quote, "1000")
    deposit(seller, market.base, "5")
    place(seller, market, Order.Side.SELL, price="100", quantity="2")
    place(buyer, market, Order.Side.BUY, price="100", quantity="2")
    run_matcher(market)
    fee_account()  # created on first use: its creation is not under test
    setup_done(heard)

    with django_capture_on_commit_callbacks() as callbacks:
        result = market_settle(market_id=market.pk)
        assert heard.nothing, "announced before commit"

    assert len(callbacks) == 1, "one announcement for the whole settlement run"
    commit(callbacks)
    # Settlement announces its wallets with its fills; the wallet service stays silent.
    assert heard.log == ["TradesSettled"]
    (settled,) = heard.settlements
    assert settled.market_id == market.pk
    assert len(settled.trades) == len(result.trades) == 1
    traders = wallet_pks((buyer, market.base), (buyer, market.quote), (seller, market.base), (seller, market.quote))
    assert set(traders) <= set(settled.wallet_ids)


# -- withdrawals ---------------------------------------------------------------------------


@pytest.fixture
def btc(db):
    return MarketFactory().base


@pytest.fixture
def mail_in_process():
    """The notices' mail task runs here (locmem backend), not queued for a worker."""
    with eager_tasks():
        yield


def test_each_withdrawal_step_announces_the_owner_wallet_after_commit_and_only_when_funds_move(
    django_capture_on_commit_callbacks, heard, btc, mail_in_process
):
    """Funds moving announce the wallet; every step the owner must hear of announces a notice (the email)."""
    trader = make_trader(btc, "10")
    officer = make_staff(BACK_OFFICE)
    wallet = wallet_pks((trader, btc))
    setup_done(heard)

    with django_capture_on_commit_callbacks() as requested:
        first = request_withdrawal(trader, btc, "1")
        assert heard.nothing, "announced before commit"
    assert len(requested) == 2
    commit(requested)
    assert heard.log == ["WalletsChanged", "NoticeDue:withdrawal_requested"]
    assert heard.wallets == [wallet]

    setup_done(heard)
    with django_capture_on_commit_callbacks() as approved:
        withdrawal_approve(actor=officer, withdrawal_id=first.pk)
        assert heard.nothing, "announced before commit"
    commit(approved)
    assert heard.log == ["NoticeDue:withdrawal_approved"], "an approval moves no funds: no wallet announcement"

    setup_done(heard)
    with django_capture_on_commit_callbacks() as sent:
        withdrawal_mark_sent(actor=officer, withdrawal_id=first.pk, txid="tx-after-commit-1")
        assert heard.nothing, "announced before commit"
    assert len(sent) == 2
    commit(sent)
    assert heard.log == ["WalletsChanged", "NoticeDue:withdrawal_sent"]
    assert len(heard.wallets) == 1
    assert set(wallet) <= set(heard.wallets[0])

    second = request_withdrawal(trader, btc, "2")
    setup_done(heard)
    with django_capture_on_commit_callbacks() as rejected:
        withdrawal_reject(actor=officer, withdrawal_id=second.pk, reason="address on a sanctions list")
        assert heard.nothing, "announced before commit"
    assert len(rejected) == 2
    commit(rejected)
    assert heard.log == ["WalletsChanged", "NoticeDue:withdrawal_rejected"]
    assert heard.wallets == [wallet]
    assert D(Wallet.objects.get(pk=wallet[0]).locked) == D(0)
