"""The real stack end to end: daphne, run_matcher and a Celery worker on PostgreSQL + Redis."""

from decimal import Decimal as D

import pytest

from markets.models import Order, Trade

from .stack import wait_settled

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def final(trader, order_id: int) -> dict:
    return trader.order(order_id)


def test_two_traders_trade_over_http_with_exact_balances_fees_and_every_order_type(
    stack, live_market, make_live_trader
):
    market = live_market
    seller = make_live_trader(stack, market, base="2")
    buyer = make_live_trader(stack, market, quote="100000")

    # Partial fills across two levels; the trade happens at the makers' prices.
    s1 = seller.place(side="sell", type="limit", price="30000", quantity="0.5").json()
    s2 = seller.place(side="sell", type="limit", price="30100", quantity="0.3").json()
    wait_settled(market)
    b1 = buyer.place(side="buy", type="limit", price="30100", quantity="0.6").json()
    wait_settled(market)
    assert final(buyer, b1["id"])["status"] == "filled"
    assert final(buyer, b1["id"])["average_price"] == "30016.666666666666666666"
    assert final(seller, s1["id"])["status"] == "filled"
    assert final(seller, s2["id"])["status"] == "partially_filled"
    assert final(seller, s2["id"])["filled_quantity"] == "0.1"
    # buyer paid 15000 + 3010 = 18010 USDT, gets 0.6 BTC less 0.2% taker fee (0.0012)
    assert buyer.balances()["USDT"] == (D("81990"), D("0"))
    assert buyer.balances()["BTC"] == (D("0.5988"), D("0"))
    # seller got 18010 USDT less 0.1% maker fee (18.01); 0.2 BTC still locked on the book
    assert seller.balances()["USDT"] == (D("17991.99"), D("0"))
    assert seller.balances()["BTC"] == (D("1.4"), D("0.2"))
    fills = buyer.http.get("/api/v1/trades").json()["results"]
    assert sorted(f["fee"] for f in fills) == ["0.0002", "0.001"]

    # Cancel the rest of a partially filled order: the lock comes back.
    assert seller.http.delete(f"/api/v1/orders/{s2['id']}").status_code == 202
    wait_settled(market)
    assert final(seller, s2["id"])["status"] == "canceled"
    assert seller.balances()["BTC"] == (D("1.4"), D("0"))

    # IOC with nothing to take expires; FOK that cannot fill completely expires and takes nothing.
    ioc = buyer.place(side="buy", type="limit", price="29000", quantity="0.1", time_in_force="IOC").json()
    seller.place(side="sell", type="limit", price="30500", quantity="0.1")
    seller.place(side="sell", type="limit", price="30600", quantity="0.1")
    wait_settled(market)
    fok_big = buyer.place(side="buy", type="limit", price="30600", quantity="0.3", time_in_force="FOK").json()
    wait_settled(market)
    assert final(buyer, ioc["id"])["status"] == "expired"
    assert final(buyer, fok_big["id"])["status"] == "expired"
    assert final(buyer, fok_big["id"])["cancel_reason"] == "fok_unfillable"
    # A FOK that fills only across several levels executes completely.
    fok = buyer.place(side="buy", type="limit", price="30600", quantity="0.2", time_in_force="FOK").json()
    wait_settled(market)
    assert final(buyer, fok["id"])["status"] == "filled"

    # Post-only that would take liquidity is rejected.
    buyer.place(side="buy", type="limit", price="29900", quantity="0.1")
    wait_settled(market)
    po = seller.place(side="sell", type="limit", price="29800", quantity="0.1", post_only=True).json()
    wait_settled(market)
    assert final(seller, po["id"])["status"] == "rejected"
    assert final(seller, po["id"])["reject_reason"] == "post_only_would_take"

    # Market sell by quantity hits the bid; a quote-budget market buy never overspends.
    ms = seller.place(side="sell", type="market", quantity="0.1").json()
    seller.place(side="sell", type="limit", price="31000", quantity="0.05")
    wait_settled(market)
    mb = buyer.place(side="buy", type="market", quote_quantity="1000").json()
    wait_settled(market)
    assert final(seller, ms["id"])["status"] == "filled"
    mb_final = final(buyer, mb["id"])
    assert D(mb_final["filled_quote"]) <= D("1000")
    assert mb_final["filled_quantity"] == "0.03225"  # 1000 / 31000 rounded down to the lot

    # Self-trade prevention: the taker is canceled, nothing trades with itself.
    seller.place(side="buy", type="limit", price="29000", quantity="0.01")
    wait_settled(market)
    stp = seller.place(side="sell", type="limit", price="29000", quantity="0.01").json()
    wait_settled(market)
    assert final(seller, stp["id"])["cancel_reason"] == "self_trade"
    assert not Trade.objects.filter(maker_user_id=seller.user.pk, taker_user_id=seller.user.pk).exists()

    assert Order.objects.filter(status="new").count() == 0
    audit = stack.manage("audit_ledger")
    assert audit.returncode == 0, audit.stdout + audit.stderr
