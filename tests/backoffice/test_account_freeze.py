"""Account freeze: trading and withdrawals refused at once, open orders canceled by the matcher, four-eyes unfreeze."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.freezes import AccountFrozen
from accounts.models import StaffAction
from accounts.roles import MARKET_OPS
from backoffice.freezes import account_freeze, unfreeze_approve, unfreeze_request
from backoffice.models import AccountFreeze
from exchange_site import events
from exchange_site.events import NoticeDue, NoticeKind
from exchange_site.four_eyes import SelfApproval
from markets.models import Order
from tests.assertions import assert_error
from tests.factories import MarketFactory, UserFactory, match_and_settle
from trading.services import OrderRequest, order_place, orders_place_bulk

from .helpers import admin_login, balance, fresh_otp, fund, make_staff

pytestmark = pytest.mark.django_db

FREEZE = "/api/v1/backoffice/accounts/{}/freeze"
UNFREEZE = "/api/v1/backoffice/accounts/{}/unfreeze"
ORDER = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "quantity": "1"}


@pytest.fixture
def market(btc):
    return MarketFactory(base=btc)


@pytest.fixture
def notices():
    seen: list[NoticeDue] = []
    events.subscribe(NoticeDue, seen.append)
    yield seen
    events.unsubscribe(NoticeDue, seen.append)


def _freeze(client, user_id, **body):
    return client.post(FREEZE.format(user_id), {"reason": "sanctions screening hit", **body}, format="json")


def _unfreeze(client, user_id, reason="cleared by the screening team"):
    return client.post(UNFREEZE.format(user_id), {"reason": reason}, format="json")


def test_a_trading_freeze_refuses_the_next_order_and_cancels_the_open_ones_through_the_matcher(
    auth_client, compliance, trader, market, django_capture_on_commit_callbacks
):
    fund(trader, market.quote, "1000")
    trader_client = auth_client(trader)
    placed = trader_client.post("/api/v1/orders", ORDER, format="json")
    assert placed.status_code == 201
    match_and_settle(market)  # the order rests on the book, 100 USDT locked
    assert balance(trader, market.quote) == (Decimal("1000"), Decimal("100"))

    with django_capture_on_commit_callbacks(execute=True):
        response = _freeze(auth_client(compliance), trader.pk, trading=True)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["trading_frozen"], body["withdrawals_frozen"], body["canceled_orders"]) == (True, False, 1)
    # The very next request with the same access token is refused (the cached user was voided).
    assert_error(trader_client.post("/api/v1/orders", ORDER, format="json"), 403, "account_frozen")
    assert trader_client.get("/api/v1/me").json()["trading_frozen"] is True
    order = Order.objects.get(pk=placed.json()["id"])
    assert order.cancel_requested_at is not None
    match_and_settle(market)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert balance(trader, market.quote) == (Decimal("1000"), Decimal("0"))
    record = StaffAction.objects.get(action="account.freeze")
    assert (record.actor, record.object_type, record.object_id, record.ip) == (
        compliance,
        "accounts.user",
        str(trader.pk),
        "127.0.0.1",
    )
    assert record.before == {"trading_frozen": False, "withdrawals_frozen": False}
    assert (record.after["trading_frozen"], record.after["reason"]) == (True, "sanctions screening hit")


def test_a_freeze_tells_the_owner_after_commit_only(
    auth_client, officer, trader, notices, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        account_freeze(actor=officer, user_id=trader.pk, trading=True, withdrawals=True, reason="court order")
        assert notices == []
    for callback in callbacks:
        callback()
    assert notices == [
        NoticeDue(user_id=trader.pk, kind=NoticeKind.ACCOUNT_FROZEN, details={"scope": "trading,withdrawals"})
    ]


def test_a_withdrawal_freeze_refuses_withdrawals_but_not_orders(auth_client, officer, trader, btc, market):
    fund(trader, market.quote, "1000")
    client = auth_client(trader)
    assert _freeze(auth_client(officer), trader.pk, withdrawals=True).status_code == 200

    refused = client.post(
        "/api/v1/withdrawals",
        {"currency": "BTC", "amount": "0.5", "address": "bc1qexampleaddress0001", "otp": fresh_otp(trader)},
        format="json",
    )
    assert_error(refused, 403, "account_frozen")
    assert balance(trader, btc) == (Decimal("10"), Decimal("0"))
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201


def test_every_placement_path_refuses_a_frozen_account(officer, trader, market):
    fund(trader, market.quote, "1000")
    account_freeze(actor=officer, user_id=trader.pk, trading=True, withdrawals=False, reason="fraud review")
    request = OrderRequest(side="buy", type="limit", price=Decimal("100"), quantity=Decimal("1"))

    with pytest.raises(AccountFrozen):
        order_place(user_id=trader.pk, market=market, order=request)
    with pytest.raises(AccountFrozen):
        orders_place_bulk(market=market, orders=[(trader.pk, "buy", Decimal("100"), Decimal("1"))])
    assert not Order.objects.filter(user=trader).exists()


def test_the_binance_surface_refuses_a_frozen_account_in_its_own_format(officer, trader, market, settings):
    settings.API_KEY_ENCRYPTION_KEY = "test-only-api-key-encryption-key"
    from tests.binance_api.helpers import assert_binance_error, hmac_bot

    fund(trader, market.quote, "1000")
    bot, _ = hmac_bot(trader)
    account_freeze(actor=officer, user_id=trader.pk, trading=True, withdrawals=False, reason="fraud review")
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": "100",
        "quantity": "1",
    }

    assert_binance_error(bot.call("POST", "order", params), -2010, 400)
    assert not Order.objects.filter(user=trader).exists()


def test_unfreeze_needs_a_second_staff_member(auth_client, officer, officer2, trader):
    first, second = auth_client(officer), auth_client(officer2)
    _freeze(first, trader.pk, trading=True, withdrawals=True)

    asked = _unfreeze(first, trader.pk)
    assert asked.status_code == 200
    body = asked.json()
    assert (body["trading_frozen"], body["withdrawals_frozen"]) == (True, True)
    assert body["pending_unfreeze"]["requested_by"] == officer.email
    assert_error(_unfreeze(first, trader.pk), 409, "self_approval")

    approved = _unfreeze(second, trader.pk, reason="agreed")
    assert approved.status_code == 200
    assert approved.json() | {"email": None} == {
        "user_id": trader.pk,
        "email": None,
        "trading_frozen": False,
        "withdrawals_frozen": False,
        "canceled_orders": 0,
        "pending_unfreeze": None,
    }
    assert_error(_unfreeze(second, trader.pk), 409, "already_decided")
    assert auth_client(trader).get("/api/v1/me").json()["trading_frozen"] is False
    request = AccountFreeze.objects.get(kind="unfreeze")
    assert (request.status, request.requested_by_id, request.decided_by_id) == ("applied", officer.pk, officer2.pk)


def test_nobody_freezes_or_unfreezes_their_own_account(officer, officer2):
    with pytest.raises(SelfApproval):
        account_freeze(actor=officer, user_id=officer.pk, trading=True, withdrawals=False, reason="test")
    account_freeze(actor=officer2, user_id=officer.pk, trading=True, withdrawals=False, reason="test")
    with pytest.raises(SelfApproval):
        unfreeze_request(actor=officer, user_id=officer.pk, reason="let me out")
    request = unfreeze_request(actor=officer2, user_id=officer.pk, reason="cleared")
    with pytest.raises(SelfApproval):
        unfreeze_approve(actor=officer, request_id=request.pk)


def test_a_new_freeze_supersedes_a_pending_unfreeze(officer, officer2, trader):
    account_freeze(actor=officer, user_id=trader.pk, trading=True, withdrawals=False, reason="first")
    request = unfreeze_request(actor=officer, user_id=trader.pk, reason="cleared")
    account_freeze(actor=officer2, user_id=trader.pk, trading=False, withdrawals=True, reason="second")

    request.refresh_from_db()
    assert request.status == "rejected"
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (True, True)


@pytest.mark.parametrize("who", ["trader", "market_ops", "no_2fa", "anonymous"])
def test_only_back_office_and_compliance_with_2fa_may_freeze(api, auth_client, who, trader, officer):
    if who == "anonymous":
        client = api
    elif who == "trader":
        client = auth_client(UserFactory())
    elif who == "market_ops":
        client = auth_client(make_staff(MARKET_OPS))
    else:
        client = auth_client(make_staff("back_office", two_factor=False))

    for response in (_freeze(client, trader.pk, trading=True), _unfreeze(client, trader.pk)):
        assert response.status_code in (401, 403)
        assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied")
    trader.refresh_from_db()
    assert trader.trading_frozen is False


@pytest.mark.parametrize(
    "body",
    [
        {"trading": True},
        {"trading": True, "reason": ""},
        {"trading": True, "reason": "   "},
        {"trading": "yes", "reason": "x"},
        {"trading": 1, "reason": "x"},
        {"reason": "neither"},
        {"trading": False, "withdrawals": False, "reason": "x"},
        {"trading": True, "reason": 12},
        {"trading": True, "reason": "x" * 2001},
        [],
        "freeze",
    ],
)
def test_malformed_freezes_are_refused_cleanly(auth_client, officer, trader, body):
    response = auth_client(officer).post(FREEZE.format(trader.pk), body, format="json")

    assert_error(response, 400, "validation_error")
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (False, False)
    assert not AccountFreeze.objects.exists()


@pytest.mark.parametrize("pk", [0, 999999, 2**63, 10**30])
def test_unknown_accounts_are_not_found(auth_client, officer, pk):
    assert_error(_freeze(auth_client(officer), pk, trading=True), 404, "not_found")
    assert_error(_unfreeze(auth_client(officer), pk), 404, "not_found")


def test_the_system_account_cannot_be_frozen(auth_client, officer):
    from accounts.selectors import fee_account

    assert_error(_freeze(auth_client(officer), fee_account().pk, trading=True), 400, "validation_error")


# -- admin ----------------------------------------------------------------------------------


def test_admin_freeze_then_unfreeze_by_two_members_and_the_index_lists_it(client, compliance, officer, trader):
    admin_login(client, compliance)
    response = client.post(
        reverse("admin:backoffice_accountfreeze_add"),
        {"user": trader.pk, "trading": "on", "withdrawals": "on", "reason": "compliance hold"},
        follow=True,
    )
    assert response.status_code == 200
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (True, True)
    freeze = AccountFreeze.objects.get(kind="freeze")
    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="frozen-accounts"' in index
    assert trader.email in index
    listed = client.get(reverse("admin:backoffice_accountfreeze_changelist") + f"?user__id__exact={trader.pk}")
    assert listed.status_code == 200  # the index's link filters the freezes by account

    url = reverse("admin:backoffice_accountfreeze_decide", args=[freeze.pk, "unfreeze"])
    assert client.post(url, {"confirm": "yes", "reason": "cleared"}).status_code == 302
    request = AccountFreeze.objects.get(kind="unfreeze")
    page = client.get(reverse("admin:backoffice_accountfreeze_change", args=[request.pk])).content.decode()
    assert 'id="decide-approve"' not in page
    assert "another staff member must decide" in page

    client.logout()
    admin_login(client, officer)
    page = client.get(reverse("admin:backoffice_accountfreeze_change", args=[request.pk])).content.decode()
    assert 'id="decide-approve"' in page
    url = reverse("admin:backoffice_accountfreeze_decide", args=[request.pk, "approve"])
    assert client.post(url, {"confirm": "yes", "comment": "ok"}).status_code == 302
    trader.refresh_from_db()
    assert (trader.trading_frozen, trader.withdrawals_frozen) == (False, False)
    assert 'id="frozen-accounts"' not in client.get(reverse("admin:index")).content.decode()
    page = client.get(reverse("admin:backoffice_accountfreeze_change", args=[request.pk])).content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page
    assert list(
        StaffAction.objects.order_by("id").values_list("action", flat=True).filter(action__startswith="account.")
    ) == [
        "account.freeze",
        "account.unfreeze_request",
        "account.unfreeze_approve",
    ]


def test_admin_freeze_form_refuses_neither_scope(client, compliance, trader):
    admin_login(client, compliance)
    response = client.post(reverse("admin:backoffice_accountfreeze_add"), {"user": trader.pk, "reason": "x"})

    assert response.status_code == 200
    assert b"Freeze trading, withdrawals or both" in response.content
    assert not AccountFreeze.objects.exists()


def test_market_ops_cannot_freeze_in_the_admin(client, trader):
    staff = make_staff(MARKET_OPS)
    admin_login(client, staff)

    assert client.get(reverse("admin:backoffice_accountfreeze_add")).status_code == 403
