"""The periodic ledger audit: a breach opens an incident, halts markets and holds withdrawals."""

from decimal import Decimal

import pytest
from django.urls import reverse

from exchange_site.errors import DomainError
from markets.models import Market
from tests.factories import CurrencyFactory, MarketFactory
from wallets.incidents import incident_resolve, ledger_watch
from wallets.models import Incident, Wallet
from wallets.tasks import watch_ledger
from wallets.withdrawals import withdrawal_approve

from .helpers import admin_login, request_withdrawal

pytestmark = pytest.mark.django_db


@pytest.fixture
def markets(btc):
    usdt = CurrencyFactory(code="USDT")
    eth = CurrencyFactory(code="ETH")
    return MarketFactory(base=btc, quote=usdt), MarketFactory(base=eth, quote=usdt, symbol="ETH-USDT")


def corrupt(user, currency, delta: str) -> None:
    """Change a balance behind the wallet service's back, as a bug or an intruder would."""
    wallet = Wallet.objects.get(user=user, currency=currency)
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + Decimal(delta))


def test_clean_ledger_opens_no_incident(trader, markets):
    assert watch_ledger() is True
    assert not Incident.objects.exists()
    assert set(Market.objects.values_list("status", flat=True)) == {"open"}


def test_breach_halts_the_currency_markets_holds_withdrawals_and_repairs_nothing(trader, btc, markets, officer):
    btc_market, eth_market = markets
    pending = request_withdrawal(trader, btc, "2")
    corrupt(trader, btc, "1")

    report = ledger_watch(wait_seconds=1)

    assert not report.ok
    incident = Incident.objects.get()
    assert incident.status == "open"
    assert incident.currency == btc
    assert any("invariant 1" in line for line in incident.details)
    assert f"halted {btc_market.symbol}" in incident.actions
    btc_market.refresh_from_db()
    eth_market.refresh_from_db()
    assert btc_market.status == "halted"
    assert eth_market.status == "open"
    # Nothing was silently corrected.
    assert Wallet.objects.get(user=trader, currency=btc).balance == Decimal("11")
    # Withdrawals of the currency are held: no new request, no approval.
    with pytest.raises(DomainError) as held:
        withdrawal_approve(actor=officer, withdrawal_id=pending.pk)
    assert held.value.code == "withdrawals_held"
    with pytest.raises(DomainError) as held_request:
        request_withdrawal(trader, btc, "0.5")
    assert held_request.value.code == "withdrawals_held"


def test_a_breach_seen_again_refreshes_the_same_incident(trader, btc, markets):
    corrupt(trader, btc, "1")
    ledger_watch(wait_seconds=1)
    ledger_watch(wait_seconds=1)
    assert Incident.objects.count() == 1


def test_staff_see_the_open_incident_on_the_admin_index(client, trader, btc, markets, officer):
    corrupt(trader, btc, "1")
    ledger_watch(wait_seconds=1)
    admin_login(client, officer)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert b"Open ledger incidents" in page.content
    assert btc.code.encode() in page.content


def test_resolving_needs_a_note_and_releases_withdrawals_but_not_markets(trader, btc, markets, officer):
    corrupt(trader, btc, "1")
    ledger_watch(wait_seconds=1)
    incident = Incident.objects.get()
    corrupt(trader, btc, "-1")  # staff found and reversed the bad write by hand
    with pytest.raises(DomainError):
        incident_resolve(incident_id=incident.pk, actor=officer, note=" ")
    incident_resolve(incident_id=incident.pk, actor=officer, note="Bad manual SQL reverted; audit clean.")
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_by == officer
    assert request_withdrawal(trader, btc, "0.5").status == "pending_review"
    assert markets[0].__class__.objects.get(pk=markets[0].pk).status == "halted"
