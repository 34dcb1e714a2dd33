"""The settlement fast paths write and read exactly what the slow ones do.

``rows_insert_text`` takes preformatted COPY lines (refusing any it could misread) and
``values_rows`` reads a ``values_list`` on a binary cursor: the values must equal, type
for type and digit for digit, what ``rows_insert`` writes and the ORM reads.
"""

from __future__ import annotations

import gc
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from exchange_site.celery import _freeze_startup_heap
from exchange_site.db import rows_insert_text, values_rows
from markets.models import Order, Trade
from tests.factories import MarketFactory, UserFactory, run_matcher
from trading.services import orders_place_bulk
from wallets.models import LedgerEntry, Wallet
from wallets.services import LEDGER_COLUMNS, BalanceChange, wallet_apply_changes_bulk
from wallets.settlement import _CLOSED_COLUMNS, _TRADE_COLUMNS

from .helpers import deposit

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")


def test_bulk_changes_write_every_ledger_value_exactly():
    user, market = UserFactory(), MarketFactory()
    deposit(user, market.quote, "1000")
    tiny, huge = D("0.000000000000000001"), D("123456789012345678.123456789012345678")
    quote = market.quote_id
    # Exponent notation and a negative zero, as Decimal arithmetic produces them.
    changes = [
        BalanceChange(user.pk, quote, "trade", -tiny, D("-0E-18"), "trade:1"),
        BalanceChange(user.pk, quote, "trade", huge, D(0), "trade:2"),
        BalanceChange(user.pk, quote, "order_lock", D(0), D("1E+2"), "order:3"),
        BalanceChange(user.pk, quote, "order_release", D(0), D("-100"), "order:3"),
    ]
    wallet_apply_changes_bulk(changes=changes)
    rows = list(
        LedgerEntry.objects.filter(user=user)
        .exclude(kind="deposit")
        .order_by("id")
        .values_list("kind", "amount", "locked_change", "balance_after", "locked_after", "reference")
    )
    start = D("1000")
    assert rows == [
        ("trade", -tiny, D(0), start - tiny, D(0), "trade:1"),
        ("trade", huge, D(0), start - tiny + huge, D(0), "trade:2"),
        ("order_lock", D(0), D(100), start - tiny + huge, D(100), "order:3"),
        ("order_release", D(0), D(-100), start - tiny + huge, D(0), "order:3"),
    ]
    wallet = Wallet.objects.get(user=user, currency=market.quote)
    assert (wallet.balance, wallet.locked) == (start - tiny + huge, D(0))


@postgres_only
@pytest.mark.parametrize("reference", ["a\\tb", "tab\there", "line\nbreak", "cr\rhere", "None"])
def test_copy_lines_that_could_be_misread_are_refused_and_nothing_is_written(reference):
    user, market = UserFactory(), MarketFactory()
    deposit(user, market.quote, "1")
    wallet = Wallet.objects.get(user=user, currency=market.quote)
    before = LedgerEntry.objects.count()
    line = "\t".join(
        map(str, (wallet.pk, user.pk, market.quote_id, "trade", 0, 0, 1, 0, reference, timezone.now().isoformat()))
    )
    assert rows_insert_text(LedgerEntry, LEDGER_COLUMNS, line + "\n", 1) is False
    assert LedgerEntry.objects.count() == before


@postgres_only
def test_a_reference_the_lines_cannot_carry_is_written_by_the_slow_path():
    user, market = UserFactory(), MarketFactory()
    deposit(user, market.quote, "5")
    reference = "odd\\ref\twith\ttabs"
    wallet_apply_changes_bulk(changes=[BalanceChange(user.pk, market.quote_id, "trade", D("-1"), D(0), reference)])
    entry = LedgerEntry.objects.filter(user=user).order_by("-id").first()
    assert (entry.reference, entry.amount, entry.balance_after) == (reference, D(-1), D(4))


def test_lean_reads_equal_the_orm_value_for_value():
    market = MarketFactory()
    buyer, seller = UserFactory(), UserFactory()
    deposit(buyer, market.quote, "100000")
    deposit(seller, market.base, "100")
    orders_place_bulk(
        market=market,
        orders=[(seller.pk, "sell", D("100.01"), D("0.5")), (buyer.pk, "buy", D("100.02"), D("0.12345"))],
    )
    run_matcher(market)
    trades = Trade.objects.filter(market=market).order_by("sequence", "id").values_list(*_TRADE_COLUMNS)
    closed = Order.objects.filter(market=market, closed_sequence__gt=0).values_list(*_CLOSED_COLUMNS)
    for queryset in (trades, closed):
        expected = list(queryset)
        assert expected
        lean = values_rows(queryset)
        assert lean == expected
        assert [tuple(map(repr, row)) for row in lean] == [tuple(map(repr, row)) for row in expected]


def test_the_worker_freezes_its_start_up_heap():
    gc.unfreeze()
    try:
        _freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
