"""The back office's own screens: grouped menu, money columns, dashboard charts, customer page, search.

Access control: non-staff and staff without OTP are sent to the login; staff without the
view permission get 403; the customer page is read-only; exports need the compliance role.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import COMPLIANCE, MARKET_OPS
from markets.models import Candle, Market, Order
from tests.factories import MarketFactory, UserFactory, fund
from wallets.models import Deposit

from .helpers import admin_login, make_staff, make_trader, request_withdrawal

pytestmark = pytest.mark.django_db


def _group_names(html: str) -> list[str]:
    return re.findall(r'<caption>\s*<a href="#[a-z]+" class="section"[^>]*>([^<]+)</a>', html)


def test_the_menu_is_grouped_by_the_work_and_hides_plumbing_from_non_superusers(client, compliance):
    admin_login(client, compliance)
    html = client.get("/admin/").content.decode()
    assert _group_names(html)[:4] == ["Trading", "Funding", "Customers", "Staff and security"]
    for plumbing in ("Book snapshots", "Candles", "static devices", "Outstanding Tokens", "Blacklisted Tokens"):
        assert plumbing.lower() not in html.lower(), plumbing
    assert "Customer page and search" in html

    boss = make_staff(is_superuser=True)
    client.logout()
    admin_login(client, boss)
    html = client.get("/admin/").content.decode()
    assert "Book snapshots" in html
    assert "Candles" in html
    assert "Outstanding Tokens" in html


def test_money_columns_show_the_currency_precision_with_thousands_separators(client, compliance):
    market = MarketFactory()
    trader = UserFactory()
    fund(trader, market.quote, "1234567.5")
    Order.objects.create(
        user=trader, market=market, side="buy", type="limit", price=Decimal("51000"), quantity=Decimal("0.5")
    )
    admin_login(client, compliance)

    wallets = client.get("/admin/wallets/wallet/").content.decode()
    assert "1,234,567.500000" in wallets  # USDT has 6 decimals
    orders = client.get("/admin/markets/order/").content.decode()
    assert "51,000.000000" in orders
    assert "0.50000000" in orders
    assert "000000000000000000" not in orders


def test_the_dashboard_draws_trading_withdrawals_and_settlement_lag(client, compliance, btc):
    market = MarketFactory()
    hour_ago = timezone.now() - timedelta(hours=1)
    Candle.objects.create(
        market=market,
        open_time=hour_ago.replace(second=0, microsecond=0),
        open=1,
        high=1,
        low=1,
        close=1,
        volume=Decimal("2"),
        quote_volume=Decimal("60000"),
        trade_count=7,
    )
    Market.objects.filter(pk=market.pk).update(last_sequence=4)
    trader = make_trader(btc, "10")
    request_withdrawal(trader, btc, "2")
    admin_login(client, compliance)

    html = client.get("/admin/").content.decode()

    assert 'id="chart-volume-btc-usdt"' in html
    assert 'id="chart-trades-btc-usdt"' in html
    assert "60,000.00 USDT in 24 h" in html
    assert "trades per hour, 7 in 24 h" in html
    assert 'id="chart-withdrawal-age"' in html
    assert 'id="chart-settlement-lag"' in html
    assert len(re.findall(r'<rect class="bar"', html)) >= 24 * 2 + 5
    assert "<script" not in html.split('id="dashboard"')[1].split("</div>\n</div>")[0]
    assert not re.search(r'(src|href)="https?://', html)


def test_the_dashboard_shows_each_role_only_its_charts(client):
    MarketFactory()
    ops = make_staff(MARKET_OPS)
    admin_login(client, ops)
    html = client.get("/admin/").content.decode()
    assert 'id="chart-settlement-lag"' in html
    assert 'id="chart-volume-btc-usdt"' not in html
    assert 'id="chart-withdrawal-age"' not in html


def test_the_market_table_headers_no_longer_take_the_whole_width(client, compliance):
    MarketFactory()
    admin_login(client, compliance)
    html = client.get("/admin/").content.decode()
    assert "#market-volumes th, #dashboard th { width: auto; }" in html


# -- the customer page ---------------------------------------------------------------------


@pytest.fixture
def customer(btc):
    market = MarketFactory(base=btc)
    user = make_trader(btc, "3")
    fund(user, market.quote, "25000")
    Order.objects.create(
        user=user, market=market, side="buy", type="limit", price=Decimal("20000"), quantity=Decimal("0.1")
    )
    request_withdrawal(user, btc, "0.5", address="bc1qcustomeraddress0001")
    Deposit.objects.filter(user=user).update(txid="feedbeef" * 8)
    return user


def test_compliance_sees_every_section_of_one_account_and_exports_them(client, compliance, customer):
    admin_login(client, compliance)
    resp = client.get(f"/admin/customers/{customer.pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    for key in ("balances", "open_orders", "fills", "deposits", "withdrawals", "ledger", "logins"):
        assert f'id="section-{key}"' in html, key
    assert "25,000.000000" in html
    assert "bc1qcustomeraddress0001" in html
    assert "on since" in html
    assert "10 backup codes left" in html

    export = client.get(f"/admin/customers/{customer.pk}/balances.csv")
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv"
    body = b"".join(export.streaming_content).decode()
    assert body.splitlines()[0] == "Currency,Balance,Locked,Available"
    assert "BTC,3.00000000,0.50050000,2.49950000" in body  # plain numbers for spreadsheets (0.5 + fee locked)
    ledger = b"".join(client.get(f"/admin/customers/{customer.pk}/ledger.csv").streaming_content).decode()
    assert ledger.count("\n") >= 4


def test_back_office_sees_its_sections_only_and_cannot_export(client, officer, customer):
    admin_login(client, officer)
    html = client.get(f"/admin/customers/{customer.pk}/").content.decode()
    assert 'id="section-balances"' in html
    assert 'id="section-withdrawals"' in html
    assert 'id="section-open_orders"' not in html
    assert 'id="section-fills"' not in html
    assert "Export CSV" not in html
    assert client.get(f"/admin/customers/{customer.pk}/balances.csv").status_code == 403


def test_the_customer_page_is_read_only(client, compliance, customer):
    admin_login(client, compliance)
    for path in (f"/admin/customers/{customer.pk}/", "/admin/customers/", f"/admin/customers/{customer.pk}/ledger.csv"):
        assert client.post(path, {"is_active": "0"}).status_code == 405
    customer.refresh_from_db()
    assert customer.is_active


def test_non_staff_and_unverified_staff_are_sent_to_the_login(client, customer, settings):
    for path in (
        f"/admin/customers/{customer.pk}/",
        "/admin/customers/?q=a",
        f"/admin/customers/{customer.pk}/fills.csv",
    ):
        assert client.get(path).status_code == 302
        client.force_login(customer)  # a trader
        resp = client.get(path)
        assert resp.status_code == 302
        assert "/admin/login/" in resp["Location"]
        client.logout()
        client.force_login(make_staff(COMPLIANCE))  # password only, no OTP verified in this session
        assert "/admin/login/" in client.get(path)["Location"]
        client.logout()


def test_staff_without_the_view_permission_get_403_and_unknown_things_404(client, customer):
    admin_login(client, make_staff(MARKET_OPS))
    assert client.get(f"/admin/customers/{customer.pk}/").status_code == 403
    assert client.get("/admin/customers/?q=x").status_code == 403
    client.logout()
    admin_login(client, make_staff(COMPLIANCE))
    assert client.get("/admin/customers/999999/").status_code == 404
    assert client.get(f"/admin/customers/{customer.pk}/passwords.csv").status_code == 404
    assert client.get("/admin/customers/abc/").status_code == 404


@pytest.mark.parametrize("by", ["email", "address", "txid", "order", "withdrawal_txid"])
def test_search_finds_the_account_by_email_address_txid_and_order_id(client, compliance, customer, by):
    from wallets.models import DepositAddress, Withdrawal

    Withdrawal.objects.filter(user=customer).update(txid="cafe" * 16)
    query = {
        "email": customer.email.split("@")[0][-6:],
        "address": DepositAddress.objects.filter(user=customer).first().address,
        "txid": "feedbeef" * 8,
        "order": str(Order.objects.get(user=customer).pk),
        "withdrawal_txid": "cafe" * 16,
    }[by]
    admin_login(client, compliance)
    html = client.get("/admin/customers/", {"q": query}).content.decode()
    assert f'href="/admin/customers/{customer.pk}/"' in html


@pytest.mark.parametrize(
    "query",
    ["' OR 1=1 --", "<script>alert(1)</script>", "%", "_", "9" * 400, "99999999999999999999999", "\u202e\u0000x"],
)
def test_hostile_searches_find_nothing_and_are_escaped(client, compliance, customer, query):
    admin_login(client, compliance)
    resp = client.get("/admin/customers/", {"q": query})
    assert resp.status_code in (200, 400)
    html = resp.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert f'href="/admin/customers/{customer.pk}/"' not in html
