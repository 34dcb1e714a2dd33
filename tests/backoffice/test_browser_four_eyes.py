"""Four eyes in a real browser: headless Chromium (Debian's package) driven by Playwright.

Two back-office members log in to the admin with password and TOTP; the first approves
a withdrawal above the dual-approval threshold (typing a fresh code, as every approval
needs), the second approves it too, the first cannot approve again, and the withdrawal
page shows both approvals.

Runs in both passes where /usr/bin/chromium exists; skipped elsewhere, except in CI
(CI=true), where a missing browser is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os

import pytest
from django.db import connections
from django.urls import reverse

from accounts.roles import BACK_OFFICE
from wallets.models import Withdrawal, WithdrawalEvent

from .helpers import PASSWORD, fresh_otp, make_staff, make_trader, request_withdrawal

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _browser_or_skip():
    """Playwright's sync API, or a skip (a failure in CI) when the browser or the package is missing."""
    missing = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is missing (pip install -r requirements.txt)"
        sync_playwright = None
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture
def browser(monkeypatch):
    sync_playwright = _browser_or_skip()
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # The ORM calls made while Playwright's loop ran in this thread used a
            # connection of their own; close it, or the test database cannot be dropped.
            connections.close_all()


def _login(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", fresh_otp(user))
    page.click("#login-form input[type=submit][value='Log in']")
    page.wait_for_url(f"**{next_path}")


def _approve(page, user, comment: str) -> None:
    page.click("#decide-approve")
    page.wait_for_selector("#confirm-decision")
    page.fill("textarea[name=comment]", comment)
    page.fill("input[name=otp]", fresh_otp(user))
    page.click("#confirm-decision")


def _field(page, name: str) -> str:
    return page.locator(f".field-{name} .readonly").first.inner_text().strip()


def test_two_members_approve_in_the_browser_and_the_first_cannot_approve_again(live_server, browser, btc):
    trader = make_trader(btc, "10")
    withdrawal = request_withdrawal(trader, btc, "2")  # at or above the threshold of 1: two approvers
    assert withdrawal.required_approvals == 2
    first, second = make_staff(BACK_OFFICE), make_staff(BACK_OFFICE)
    change_path = reverse("admin:wallets_withdrawal_change", args=[withdrawal.pk])
    base = live_server.url

    first_ctx, second_ctx = browser.new_context(), browser.new_context()
    page1, page2 = first_ctx.new_page(), second_ctx.new_page()
    for page in (page1, page2):
        page.set_default_timeout(20_000)

    # A password alone does not open the admin.
    page1.goto(f"{base}/admin/login/")
    page1.fill("#id_username", first.email)
    page1.fill("#id_password", PASSWORD)
    page1.click("#login-form input[type=submit][value='Log in']")
    assert "/admin/login/" in page1.url

    _login(page1, base, first, change_path)
    assert _field(page1, "approvals_display") == "0 of 2"
    _approve(page1, first, "first pair of eyes")
    page1.wait_for_url(f"**{change_path}")
    assert "approve done" in page1.locator("ul.messagelist").inner_text().lower()
    assert _field(page1, "approvals_display") == "1 of 2"
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == Withdrawal.Status.PENDING_REVIEW

    _login(page2, base, second, change_path)
    _approve(page2, second, "second pair of eyes")
    page2.wait_for_url(f"**{change_path}")
    assert _field(page2, "approvals_display") == "2 of 2"
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == Withdrawal.Status.APPROVED

    # The first member is offered no second approval, and forcing one is refused.
    page1.goto(f"{base}{change_path}")
    assert page1.locator("#decide-approve").count() == 0
    assert "You already decided" in page1.locator("#decision-panel").inner_text()
    page1.goto(f"{base}{reverse('admin:wallets_withdrawal_decide', args=[withdrawal.pk, 'approve'])}")
    page1.click("#confirm-decision")
    page1.wait_for_url(f"**{change_path}")
    assert "already_decided" in page1.locator("ul.messagelist").inner_text()
    assert WithdrawalEvent.objects.filter(withdrawal=withdrawal, action="approve").count() == 2

    # The page shows both approvals in the read-only history.
    history = page1.locator("#events-group").inner_text()
    assert first.email in history
    assert second.email in history
    assert "first pair of eyes" in history
    assert "second pair of eyes" in history
    assert (
        page1.locator("#events-group input:not([type=hidden]), #events-group textarea, #events-group select").count()
        == 0
    )
    if os.environ.get("BROWSER_SCREENSHOT"):
        page1.screenshot(path=os.environ["BROWSER_SCREENSHOT"], full_page=True)

    first_ctx.close()
    second_ctx.close()
