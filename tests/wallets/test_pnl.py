"""Realized PnL: settlement keeps it per trader and market; an independent replay of the trade log agrees exactly."""

from __future__ import annotations

import io
import random
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.selectors import fee_account
from markets.models import Order, Trade
from tests.factories import MarketFactory, UserFactory, run_matcher
from wallets.models import TraderPnl
from wallets.pnl import PnlState, pnl_apply, pnl_replay
from wallets.settlement import market_settle

from .helpers import deposit, place

D = Decimal
BUY, SELL = Order.Side.BUY, Order.Side.SELL
Q18 = Decimal("1e-18")


def _round(value: Fraction) -> Decimal:
    """A fraction at 18 places, half-even (the documented rule), computed without Decimal division."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Q18, rounding=ROUND_HALF_EVEN)


def _replay(trades) -> dict[int, dict[str, Decimal]]:
    """The documented rule, written again from scratch: long and short handled apart, fractions for shares."""
    book: dict[int, dict[str, Decimal]] = {}

    def account(user_id):
        return book.setdefault(user_id, {"position": D(0), "cost": D(0), "realized": D(0), "fees": D(0)})

    def close(a, size: Decimal, value: Decimal, direction: int) -> None:
        held = abs(a["position"])
        if size <= held:
            taken = a["cost"] if size == held else _round(Fraction(a["cost"]) * Fraction(size) / Fraction(held))
            a["realized"] += -value - taken
            a["cost"] -= taken
            a["position"] += direction * size
            return
        part = _round(Fraction(value) * Fraction(held) / Fraction(size))
        a["realized"] += -part - a["cost"]
        a["position"] = direction * (size - held)
        a["cost"] = value - part

    for t in trades:
        if t.taker_side == BUY:
            buyer, seller, fb, fs = t.taker_user_id, t.maker_user_id, t.taker_fee, t.maker_fee
        else:
            buyer, seller, fb, fs = t.maker_user_id, t.taker_user_id, t.maker_fee, t.taker_fee
        # Buyer: receives quantity - fee (base), pays quote_quantity.
        a = account(buyer)
        a["fees"] += (fb * t.price).quantize(Q18, rounding=ROUND_HALF_EVEN)
        got = t.quantity - fb
        if a["position"] >= 0:
            a["position"] += got
            a["cost"] += t.quote_quantity
        else:
            close(a, got, t.quote_quantity, +1)
        # Seller: gives quantity, receives quote_quantity - fee.
        a = account(seller)
        a["fees"] += fs
        proceeds = t.quote_quantity - fs
        if a["position"] <= 0:
            a["position"] -= t.quantity
            a["cost"] -= proceeds
        else:
            close(a, t.quantity, -proceeds, -1)
    return book


def _stored(market) -> dict[int, dict[str, Decimal]]:
    return {
        r.user_id: {"position": r.position, "cost": r.cost_basis, "realized": r.realized_pnl, "fees": r.fees_paid_quote}
        for r in TraderPnl.objects.filter(market=market)
    }


def _settle_in_small_runs(market) -> int:
    runs = 0
    while market_settle(market_id=market.pk, max_sequences=3) is not None:
        runs += 1
    return runs


@pytest.fixture
def busy_market(db):
    """Three traders trading at awkward prices and sizes (fees on both sides), settled in many small runs."""
    market = MarketFactory(maker_fee=D("0.0013"), taker_fee=D("0.0027"))
    traders = [UserFactory() for _ in range(3)]
    for t in traders:
        deposit(t, market.quote, "1000000")
        deposit(t, market.base, "50")
    rng = random.Random(15)
    for _ in range(6):
        for _ in range(12):
            who = rng.choice(traders)
            side = rng.choice([BUY, SELL])
            price = D(rng.randint(9000, 11000)) / 100
            quantity = D(rng.randint(1, 300000)) / 100000
            place(who, market, side, price=str(price), quantity=str(quantity))
        run_matcher(market)
        _settle_in_small_runs(market)
    return market, traders


def test_stored_figures_equal_an_independent_replay_of_the_trade_log(busy_market):
    market, traders = busy_market
    trades = list(Trade.objects.filter(market=market).order_by("sequence", "id"))
    assert len(trades) > 20
    expected = _replay(trades)
    assert _stored(market) == expected
    # Every figure is at the money quantum: what was rounded is stored as computed.
    for row in TraderPnl.objects.filter(market=market):
        assert row.average_cost == (
            (row.cost_basis / row.position).quantize(Q18, rounding=ROUND_HALF_EVEN) if row.position else 0
        )
    replayed = pnl_replay(market_id=market.pk)
    assert {u: (s.position, s.cost_basis, s.realized_pnl, s.fees_paid_quote) for u, s in replayed.items()} == {
        u: (e["position"], e["cost"], e["realized"], e["fees"]) for u, e in expected.items()
    }


def test_nothing_is_created_or_lost_by_rounding(busy_market):
    """Realized PnL plus the open cost equals the quote paid out and received, to the last decimal."""
    market, traders = busy_market
    for row in TraderPnl.objects.filter(market=market):
        flows = D(0)
        for t in Trade.objects.filter(market=market):
            buyer = t.taker_user_id if t.taker_side == BUY else t.maker_user_id
            seller = t.maker_user_id if t.taker_side == BUY else t.taker_user_id
            seller_fee = t.maker_fee if t.taker_side == BUY else t.taker_fee
            if buyer == row.user_id:
                flows -= t.quote_quantity
            if seller == row.user_id:
                flows += t.quote_quantity - seller_fee
        assert row.realized_pnl - row.cost_basis == flows


def test_fee_account_has_no_trading_pnl(busy_market):
    market, _ = busy_market
    assert not TraderPnl.objects.filter(user=fee_account()).exists()


def test_hand_computed_round_trip_with_fees(db):
    """alice buys 2 at 100 (taker fee in base), sells 1 at 130 (maker fee in quote)."""
    market = MarketFactory(maker_fee=D("0.001"), taker_fee=D("0.002"))
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    deposit(alice, market.quote, "1000")
    deposit(bob, market.base, "5")
    deposit(carol, market.quote, "1000")
    place(bob, market, SELL, price="100", quantity="2")
    place(alice, market, BUY, price="100", quantity="2")
    run_matcher(market)
    _settle_in_small_runs(market)
    a = TraderPnl.objects.get(user=alice, market=market)
    # Received 2 - 0.004 = 1.996 for 200 quote; the fee is worth 0.004 * 100 = 0.4 quote.
    assert (a.position, a.cost_basis, a.realized_pnl, a.fees_paid_quote) == (D("1.996"), D(200), D(0), D("0.4"))
    place(alice, market, SELL, price="130", quantity="1")
    place(carol, market, BUY, price="130", quantity="1")
    run_matcher(market)
    _settle_in_small_runs(market)
    a.refresh_from_db()
    # Proceeds 130 - 0.13 = 129.87; cost of 1 of 1.996 = 200 / 1.996 = 100.200400801603206413 (rounded).
    removed = D("100.200400801603206413")
    assert a.position == D("0.996")
    assert a.realized_pnl == D("129.87") - removed
    assert a.cost_basis == D(200) - removed
    assert a.fees_paid_quote == D("0.53")
    b = TraderPnl.objects.get(user=bob, market=market)
    # bob sold coins he deposited: a negative position at his net proceeds (200 - 0.2).
    assert (b.position, b.cost_basis, b.realized_pnl) == (D(-2), D("-199.8"), D(0))
    assert b.average_cost == D("99.9")


def _trade(buyer, seller, *, price, quantity, buyer_fee="0", seller_fee="0"):
    price, quantity = D(price), D(quantity)
    return SimpleNamespace(
        taker_side=BUY,
        taker_user_id=buyer,
        maker_user_id=seller,
        taker_fee=D(buyer_fee),
        maker_fee=D(seller_fee),
        price=price,
        quantity=quantity,
        quote_quantity=price * quantity,
    )


def test_a_self_trade_costs_exactly_its_fees():
    """The engine prevents self-trades; were one booked, the buyer's leg goes first and only fees are lost."""
    states: dict[int, PnlState] = {}
    pnl_apply(states, [_trade(1, 1, price="100", quantity="1", seller_fee="0.2")])
    s = states[1]
    assert (s.position, s.cost_basis, s.realized_pnl, s.fees_paid_quote) == (D(0), D(0), D("-0.2"), D("0.2"))


def test_a_sell_larger_than_the_position_flips_it_short():
    states: dict[int, PnlState] = {}
    pnl_apply(
        states,
        [_trade(1, 2, price="100", quantity="1"), _trade(3, 1, price="110", quantity="3")],
    )
    s = states[1]
    # Closes 1 at 110 (+10), opens -2 at 110.
    assert (s.position, s.cost_basis, s.realized_pnl, s.average_cost) == (D(-2), D(-220), D(10), D(110))
    pnl_apply(states, [_trade(1, 4, price="100", quantity="2")])
    assert (s.position, s.cost_basis, s.realized_pnl) == (D(0), D(0), D(30))


def test_rebuild_restores_figures_from_the_trade_log(busy_market):
    market, traders = busy_market
    expected = _stored(market)
    TraderPnl.objects.filter(market=market, user=traders[0]).update(realized_pnl=D("123"))
    TraderPnl.objects.filter(market=market, user=traders[1]).delete()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("pnl_rebuild", "--check", stdout=out)
    assert "2 traders differ" in out.getvalue()
    call_command("pnl_rebuild", "--market", market.symbol, stdout=io.StringIO())
    assert _stored(market) == expected
    call_command("pnl_rebuild", "--check", stdout=io.StringIO())
