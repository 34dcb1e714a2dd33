"""Account freeze in a real browser: compliance freezes, a second staff member unfreezes, the audit trail shows both.

Headless Chromium (Debian's package) driven by Playwright, as the four-eyes browser
test; skipped where /usr/bin/chromium is missing, a failure in CI.
"""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from accounts.models import StaffAction, User
from accounts.roles import BACK_OFFICE, COMPLIANCE
from backoffice.models import AccountFreeze

from .helpers import make_staff, make_trader
from .test_browser_four_eyes import _login, browser  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser):  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    return page


def _decide(page, name: str, field: str, text: str) -> None:
    page.click(f"#decide-{name}")
    page.wait_for_selector("#confirm-decision")
    page.fill(f"textarea[name={field}]", text)
    page.click("#confirm-decision")


def test_compliance_freezes_a_colleague_unfreezes_and_the_trail_shows_both(live_server, browser, btc):  # noqa: F811
    trader = make_trader(btc, "1")
    officer, colleague = make_staff(COMPLIANCE), make_staff(BACK_OFFICE)
    base = live_server.url
    add_path = reverse("admin:backoffice_accountfreeze_add")

    # Compliance freezes the account with the add form (the account picked by its email).
    page1 = _page(browser)
    _login(page1, base, officer, add_path)
    page1.click("#id_user + .select2 .select2-selection")
    page1.fill(".select2-search__field", trader.email)
    page1.click(f".select2-results__option:has-text('{trader.email}')")
    page1.check("#id_trading")
    page1.check("#id_withdrawals")
    page1.fill("#id_reason", "sanctions screening hit, case 4411")
    page1.click("input[name=_save]")
    page1.wait_for_selector("ul.messagelist")
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (True, True)
    freeze = AccountFreeze.objects.get(kind="freeze")

    # The index lists the frozen account.
    page1.goto(f"{base}{reverse('admin:index')}")
    assert trader.email in page1.locator("#frozen-accounts").inner_text()

    # The same officer asks for the unfreeze: they may not approve it themselves.
    freeze_path = reverse("admin:backoffice_accountfreeze_change", args=[freeze.pk])
    page1.goto(f"{base}{freeze_path}")
    _decide(page1, "unfreeze", "reason", "screening cleared the match")
    page1.wait_for_url(f"**{freeze_path}")
    request = AccountFreeze.objects.get(kind="unfreeze")
    request_path = reverse("admin:backoffice_accountfreeze_change", args=[request.pk])
    page1.goto(f"{base}{request_path}")
    assert page1.locator("#decide-approve").count() == 0
    assert "another staff member must decide" in page1.locator("#decision-panel").inner_text()
    assert User.objects.get(pk=trader.pk).trading_frozen is True

    # A second staff member approves it.
    page2 = _page(browser)
    _login(page2, base, colleague, request_path)
    _decide(page2, "approve", "comment", "agreed with compliance")
    page2.wait_for_url(f"**{request_path}")
    assert "approve unfreeze done" in page2.locator("ul.messagelist").inner_text().lower()
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (False, False)

    # Compliance finds both actions in the audit trail, read-only.
    page1.goto(f"{base}{reverse('admin:accounts_staffaction_changelist')}")
    rows = page1.locator("#result_list tbody tr").all_inner_texts()
    text = "\n".join(rows)
    assert any("account.freeze" in row and officer.email in row for row in rows), text
    assert any("account.unfreeze_approve" in row and colleague.email in row for row in rows), text
    assert any("account.unfreeze_request" in row and officer.email in row for row in rows), text
    approve = StaffAction.objects.get(action="account.unfreeze_approve")
    page1.goto(f"{base}{reverse('admin:accounts_staffaction_change', args=[approve.pk])}")
    assert page1.locator("input[name=_save], .deletelink").count() == 0
    assert '"trading_frozen": true' in page1.locator(".field-before_display").inner_text()
    if os.environ.get("BROWSER_SCREENSHOT"):
        page1.screenshot(path=os.environ["BROWSER_SCREENSHOT"], full_page=True)
