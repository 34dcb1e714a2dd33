from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.selectors import fee_account
from markets.models import Market, Order
from tests.factories import MarketFactory, UserFactory, match_and_settle

from .helpers import deposit, place

BUY, SELL = Order.Side.BUY, Order.Side.SELL


@dataclass
class TradingState:
    market: Market
    alice: object
    bob: object
    fees: object
    alice_buy: Order
    bob_sell: Order
    bob_resting: Order


@pytest.fixture
def trading_state(db) -> TradingState:
    """A settled market with a partial fill, a filled order and a resting order; the audit must pass.

    alice rests a buy of 1 BTC at 100, bob's taker sell of 0.4 at 99 fills against it,
    then bob rests a sell of 0.1 at 105.
    """
    market = MarketFactory()
    alice, bob = UserFactory(), UserFactory()
    fees = fee_account()
    deposit(alice, market.quote, "10000")
    deposit(bob, market.base, "2")
    alice_buy = place(alice, market, BUY, price="100", quantity="1")
    match_and_settle(market)
    bob_sell = place(bob, market, SELL, price="99", quantity="0.4")
    match_and_settle(market)
    bob_resting = place(bob, market, SELL, price="105", quantity="0.1")
    match_and_settle(market)
    for o in (alice_buy, bob_sell, bob_resting):
        o.refresh_from_db()
    assert alice_buy.status == "partially_filled"
    assert bob_sell.status == "filled"
    assert bob_resting.status == "open"
    return TradingState(market, alice, bob, fees, alice_buy, bob_sell, bob_resting)
