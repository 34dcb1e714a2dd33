"""The landing page, the dashboard charts, the customer page and staff 2FA enrolment in a real browser.

Headless Chromium (Debian's package) driven by Playwright, as the four-eyes browser test;
skipped where /usr/bin/chromium is missing, a failure in CI. Screenshots of the landing
page, the admin index and the customer page are saved under
var/test-output/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.roles import BACK_OFFICE, COMPLIANCE
from accounts.selectors import two_factor_enabled
from markets.models import Candle, Market, Order
from matching.heartbeat import Heart
from tests.factories import PASSWORD, MarketFactory, fund
from wallets.models import SettlementCursor

from .helpers import make_staff, make_trader, request_withdrawal
from .test_browser_four_eyes import _login, browser  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / "var" / "test-output" / "screenshots"


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


@pytest.fixture
def exchange(btc):
    """Two markets with a day of candles, waiting withdrawals, a customer with activity; matcher beating."""
    btc_usdt = MarketFactory(base=btc)
    eth_usdt = MarketFactory(base__code="ETH", base__name="Ether", quote=btc_usdt.quote)
    now = timezone.now().replace(second=0, microsecond=0)
    for market, scale in ((btc_usdt, 51000), (eth_usdt, 2600)):
        for hour in range(24):
            count = (hour * 7) % 13 + 1
            Candle.objects.create(
                market=market,
                open_time=now - timedelta(hours=hour, minutes=1),
                open=scale,
                high=scale,
                low=scale,
                close=scale,
                volume=Decimal(count) / 10,
                quote_volume=Decimal(count * scale) / 10,
                trade_count=count,
            )
        Market.objects.filter(pk=market.pk).update(last_sequence=40)
        SettlementCursor.objects.create(market=market, settled_sequence=40 if market is btc_usdt else 37)
    customer = make_trader(btc, "3")
    fund(customer, btc_usdt.quote, "25000")
    Order.objects.create(
        user=customer, market=btc_usdt, side="buy", type="limit", price=Decimal("50000"), quantity=Decimal("0.1")
    )
    request_withdrawal(customer, btc, "0.5")
    request_withdrawal(make_trader(btc, "10"), btc, "2")
    Heart().beat([btc_usdt.pk, eth_usdt.pk])
    return customer


def _page(browser):  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    return page


def test_landing_page_in_the_browser(live_server, browser, exchange):  # noqa: F811
    page = _page(browser)
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Exchange back end"
    assert page.locator("#health-status").inner_text() == "all parts up"
    assert page.locator("tr.market-row").count() == 2
    assert page.locator("#server-time").inner_text().endswith("Z")
    _shot(page, "landing")
    page.click("#link-docs")
    page.wait_for_url("**/api/v1/docs/")
    page.wait_for_selector(".swagger-ui", state="attached")


def test_dashboard_charts_and_customer_page_in_the_browser(live_server, browser, exchange):  # noqa: F811
    officer = make_staff(COMPLIANCE)
    page = _page(browser)
    _login(page, live_server.url, officer, "/admin/")

    for chart in ("chart-volume-btc-usdt", "chart-trades-eth-usdt", "chart-withdrawal-age", "chart-settlement-lag"):
        box = page.locator(f"svg#{chart}").bounding_box()
        assert box, chart
        assert box["width"] > 200, chart
        assert box["height"] > 50, chart
    assert page.locator("svg#chart-trades-btc-usdt rect.bar").count() == 24
    heights = page.locator("svg#chart-trades-btc-usdt rect.bar").evaluate_all(
        "bars => bars.map(b => b.getBoundingClientRect().height)"
    )
    assert max(heights) > 40
    assert min(heights) > 0
    header = page.locator("#market-volumes th").first.bounding_box()
    assert header["height"] < 40  # one line, not a letter per line
    _shot(page, "admin-index")

    page.goto(live_server.url + "/admin/customers/")
    page.fill("#q", exchange.email)
    page.click("#customer-search input[type=submit]")
    page.click(f"#search-results a:has-text('{exchange.email}')")
    page.wait_for_selector("#section-balances")
    assert "25,000.000000" in page.locator("#section-balances").inner_text()
    assert page.locator("#section-withdrawals tbody tr").count() == 1
    assert "on since" in page.locator("#two-factor-state").inner_text()
    assert page.locator("#customer input:not([type=hidden]), #customer textarea, #customer select").count() == 0
    with page.expect_download() as download:
        page.click("#section-ledger a.export")
    assert download.value.suggested_filename == f"customer_{exchange.pk}_ledger.csv"
    _shot(page, "customer-page")


def test_staff_2fa_enrolment_in_the_browser(live_server, browser, db):  # noqa: F811
    staff = make_staff(BACK_OFFICE, two_factor=False)
    page = _page(browser)
    page.goto(live_server.url + "/admin/two-factor/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("#enrol-password input[type=submit]")
    page.wait_for_selector("#enrol-qr svg")
    assert page.locator("#enrol-qr svg").bounding_box()["width"] > 100
    secret = page.locator("#enrol-secret").inner_text().strip()
    # What the authenticator app does with the scanned secret.
    step = int(time.time() // 30)
    page.fill("#id_otp", _authenticator_code(secret, step))
    page.click("#enrol-code input[type=submit]")
    page.wait_for_selector("#enrol-done")
    assert page.locator("#backup-codes li").count() == 10
    assert two_factor_enabled(user=staff)
    _shot(page, "staff-2fa-enrolled")


def _authenticator_code(secret: str, step: int) -> str:
    from django_otp.oath import TOTP

    token = TOTP(base64.b32decode(secret), step=30, t0=0, digits=6, drift=0)
    token.time = step * 30
    return f"{token.token():06d}"
