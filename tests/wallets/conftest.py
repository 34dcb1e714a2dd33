from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.selectors import fee_account
from markets.models import Market, Order
from tests.factories import MarketFactory, UserFactory

from .helpers import deposit, match, place_limit, settle


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

    alice buys 1 BTC at 100 (0.4 filled by bob's taker sell), bob rests a sell of 0.1 at 105.
    """
    market = MarketFactory()
    alice, bob = UserFactory(), UserFactory()
    fees = fee_account()
    deposit(alice, market.quote, "10000")
    deposit(bob, market.base, "2")
    alice_buy = place_limit(alice, market, Order.Side.BUY, "100", "1")
    bob_sell = place_limit(bob, market, Order.Side.SELL, "99", "0.4")
    match(alice_buy, bob_sell, "0.4")
    settle(market, fees)
    bob_resting = place_limit(bob, market, Order.Side.SELL, "105", "0.1")
    settle(market, fees)
    for o in (alice_buy, bob_sell, bob_resting):
        o.refresh_from_db()
    return TradingState(market, alice, bob, fees, alice_buy, bob_sell, bob_resting)
