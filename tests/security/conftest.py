"""Fixtures for the security tests: a small exchange with two traders, staff and real tokens.

Everything is built through the real services (custody deposits, the order service, the
matcher and settlement, withdrawal requests), and the tokens come from the token
endpoint, so the attacks below hit the same code paths as production traffic.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accounts.roles import BACK_OFFICE, COMPLIANCE, MARKET_OPS
from apikeys.services import api_key_create
from markets.models import Trade
from tests.backoffice.helpers import make_staff
from tests.factories import MarketFactory, UserFactory, match_and_settle
from trading.order_lists import OcoRequest, order_list_place_oco
from wallets.deposits import deposit_address_get
from wallets.models import Deposit

from .helpers import FUZZ_STATS, HAND_WRITTEN
from .world import World, funded_trader, login, place, withdraw


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the figures docs/SECURITY.md quotes."""
    if HAND_WRITTEN:
        terminalreporter.write_sep("-", "hand-written hostile requests")
        for family, n in sorted(HAND_WRITTEN.items()):
            terminalreporter.write_line(f"{family}: {n}")
    if FUZZ_STATS.cases:
        terminalreporter.write_sep("-", "schemathesis fuzzing")
        terminalreporter.write_line(FUZZ_STATS.summary())
        if config.getoption("verbose") > 0:
            for line in FUZZ_STATS.details():
                terminalreporter.write_line("  " + line)


@pytest.fixture
def world(db) -> World:
    """Two funded traders with orders, fills, deposits and withdrawals; staff of every role; a newcomer.

    alice (``trader``) and mallory (``other``) have 2FA on; the newcomer has not.
    """
    market = MarketFactory()
    btc, usdt = market.base, market.quote
    alice = funded_trader(market, "alice")
    mallory = funded_trader(market, "mallory")

    # Fills for both: alice's resting sell is hit by mallory's buy.
    alice_orders = [place(alice, market, "sell", "100", "1", client_order_id="alice-sell-1")]
    mallory_orders = [place(mallory, market, "buy", "100", "0.5", client_order_id="mallory-buy-1")]
    match_and_settle(market)
    # Resting orders on both sides of the book, one with a client id per trader.
    alice_orders += [
        place(alice, market, "buy", "90", "0.1", client_order_id="alice-buy-2"),
        place(alice, market, "sell", "120", "0.2"),
    ]
    mallory_orders += [
        place(mallory, market, "buy", "80", "0.3", client_order_id="mallory-buy-2"),
        place(mallory, market, "sell", "130", "0.4", client_order_id="mallory-sell-3"),
    ]
    for user in (alice, mallory):
        # An OCO order list each: list ids that only their owner may touch.
        request = OcoRequest(side="sell", quantity=Decimal("0.1"), price=Decimal("500"), stop_price=Decimal("10"))
        order_list_place_oco(user.pk, market, request)
    match_and_settle(market)
    alice_withdrawals = [withdraw(alice, btc, "0.5", "alice-address-0001")]
    mallory_withdrawals = [withdraw(mallory, btc, "0.7", "mallory-address-0001")]

    for user in (alice, mallory):
        # An Ed25519 key each (no server-side secret needed): ids that only their owner may touch.
        pem = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        api_key_create(user_id=user.pk, name="bot", permissions=["read"], type="ed25519", public_key=pem.decode())
    trader, other = login(alice), login(mallory)
    trader.orders, other.orders = alice_orders, mallory_orders
    trader.withdrawals, other.withdrawals = alice_withdrawals, mallory_withdrawals
    for order in [*alice_orders, *mallory_orders]:
        order.refresh_from_db()
    assert Trade.objects.filter(maker_user=alice, taker_user=mallory).exists()
    assert Deposit.objects.filter(user=alice).count() == 2
    return World(
        market=market,
        btc=btc,
        usdt=usdt,
        trader=trader,
        other=other,
        officer=login(make_staff(BACK_OFFICE, email="officer@example.com")),
        compliance=login(make_staff(COMPLIANCE, email="compliance@example.com")),
        market_ops=login(make_staff(MARKET_OPS, email="ops@example.com")),
        plain_staff=login(make_staff(email="staff@example.com")),
        newcomer=login(UserFactory(email="newcomer@example.com")),
        trader_btc_address=deposit_address_get(user=alice, currency=btc).address,
    )
