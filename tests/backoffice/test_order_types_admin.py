"""Admin pages of stop orders and OCO lists: trigger state shown, filters, read-only, compliance export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from markets.models import Order, OrderList
from tests.factories import MarketFactory, OrderFactory, UserFactory

from .helpers import admin_login

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def oco(db):
    """An OCO sell pair whose stop leg triggered (so the limit leg was canceled), plus a waiting stop and a GTD."""
    market = MarketFactory()
    user = UserFactory(password=None, email="oco-trader@example.com")
    order_list = OrderList.objects.create(
        market=market, user=user, status=OrderList.Status.DONE, client_order_id="pair-1"
    )
    limit_leg = OrderFactory(
        market=market,
        user=user,
        side=Order.Side.SELL,
        price=Decimal("110"),
        quantity=Decimal("1"),
        order_list=order_list,
        status=Order.Status.CANCELED,
        cancel_reason="oco_other_leg",
    )
    stop_leg = OrderFactory(
        market=market,
        user=user,
        side=Order.Side.SELL,
        type=Order.Type.STOP_LIMIT,
        price=Decimal("94"),
        stop_price=Decimal("95"),
        quantity=Decimal("1"),
        order_list=order_list,
        status=Order.Status.OPEN,
        triggered_at=T0,
    )
    waiting = OrderFactory(
        market=market,
        user=user,
        type=Order.Type.STOP_MARKET,
        price=None,
        quote_quantity=Decimal("500"),
        quantity=None,
        stop_price=Decimal("120"),
        status=Order.Status.UNTRIGGERED,
        locked_amount=Decimal("500"),
    )
    gtd = OrderFactory(
        market=market,
        user=user,
        time_in_force=Order.TimeInForce.GTD,
        expire_time=datetime(2027, 1, 1, tzinfo=UTC),
        amended_at=T0,
        status=Order.Status.OPEN,
    )
    return {"list": order_list, "limit": limit_leg, "stop": stop_leg, "waiting": waiting, "gtd": gtd}


def _changelist(client, model, query: str = ""):
    return client.get(reverse(f"admin:markets_{model._meta.model_name}_changelist") + query)


def _ids(response) -> set[int]:
    return {o.pk for o in response.context["cl"].result_list}


def test_order_list_shows_trigger_state_list_link_expiry_and_amendment(client, compliance, oco):
    admin_login(client, compliance)

    response = _changelist(client, Order)

    assert response.status_code == 200
    page = response.content.decode()
    assert "waiting for 120" in page
    assert "triggered 2026-06-01 12:00:00 UTC" in page
    assert reverse("admin:markets_orderlist_change", args=[oco["list"].pk]) in page
    assert f"OCO {oco['list'].pk}" in page
    assert "untriggered" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?type__exact=stop_limit", {"stop"}),
        ("?type__exact=stop_market", {"waiting"}),
        ("?status__exact=untriggered", {"waiting"}),
        ("?time_in_force__exact=GTD", {"gtd"}),
        ("?trigger=waiting", {"waiting"}),
        ("?trigger=triggered", {"stop"}),
        ("?in_list=yes", {"limit", "stop"}),
        ("?in_list=no", {"waiting", "gtd"}),
        ("?amended=yes", {"gtd"}),
    ],
)
def test_order_filters(client, compliance, oco, query, expected):
    admin_login(client, compliance)

    response = _changelist(client, Order, query)

    assert response.status_code == 200
    assert _ids(response) == {oco[name].pk for name in expected}


def test_never_triggered_filter_finds_stops_closed_before_their_price(client, compliance, oco):
    oco["waiting"].status = Order.Status.CANCELED
    oco["waiting"].save(update_fields=["status"])
    admin_login(client, compliance)

    assert _ids(_changelist(client, Order, "?trigger=never")) == {oco["waiting"].pk}


def test_order_page_shows_the_stop_fields(client, compliance, oco):
    admin_login(client, compliance)

    response = client.get(reverse("admin:markets_order_change", args=[oco["stop"].pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Stop, order list, expiry and amendment" in page
    assert "triggered 2026-06-01 12:00:00 UTC" in page
    assert reverse("admin:markets_orderlist_change", args=[oco["list"].pk]) in page
    assert 'name="stop_price"' not in page
    assert 'name="_save"' not in page


def test_order_list_page_shows_both_legs(client, compliance, oco):
    admin_login(client, compliance)

    response = client.get(reverse("admin:markets_orderlist_change", args=[oco["list"].pk]))

    assert response.status_code == 200
    page = response.content.decode()
    for leg in ("limit", "stop"):
        assert reverse("admin:markets_order_change", args=[oco[leg].pk]) in page
    assert "oco_other_leg" in page
    assert "stop_limit" in page
    changelist = _changelist(client, OrderList).content.decode()
    assert f"{oco['limit'].pk} limit canceled, {oco['stop'].pk} stop_limit open" in changelist


def test_order_lists_are_read_only_for_everyone(client, compliance, oco, rf):
    from django.contrib import admin

    request = rf.get("/")
    request.user = UserFactory(password=None, is_staff=True, is_superuser=True)
    model_admin = admin.site._registry[OrderList]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)

    admin_login(client, compliance)
    url = reverse("admin:markets_orderlist_change", args=[oco["list"].pk])
    response = client.post(url, {"status": "active"})
    assert response.status_code == 403
    oco["list"].refresh_from_db()
    assert oco["list"].status == OrderList.Status.DONE
    assert client.post(reverse("admin:markets_orderlist_delete", args=[oco["list"].pk])).status_code == 403


def test_back_office_and_market_ops_do_not_see_orders_or_lists(client, officer, market_ops, oco):
    for staff in (officer, market_ops):
        client.logout()
        admin_login(client, staff)
        assert _changelist(client, Order).status_code == 403
        assert _changelist(client, OrderList).status_code == 403


def test_traders_cannot_open_the_admin(client, oco):
    trader = UserFactory()
    client.force_login(trader)

    response = _changelist(client, OrderList)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _export(client, model, ids):
    url = reverse(f"admin:markets_{model._meta.model_name}_changelist")
    response = client.post(url, {"action": "export_as_csv", "_selected_action": [str(i) for i in ids]})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_compliance_exports_stop_and_oco_orders_with_their_trigger_state(client, compliance, oco):
    admin_login(client, compliance)

    rows = _export(client, Order, [oco[n].pk for n in ("limit", "stop", "waiting", "gtd")])

    by_id = {int(r["id"]): r for r in rows}
    stop, waiting, gtd = by_id[oco["stop"].pk], by_id[oco["waiting"].pk], by_id[oco["gtd"].pk]
    assert (stop["type"], stop["stop_price"], stop["order_list_id"]) == ("stop_limit", "95", str(oco["list"].pk))
    assert stop["triggered_at"] == T0.isoformat()
    assert (waiting["status"], waiting["triggered_at"], waiting["stop_price"]) == ("untriggered", "", "120")
    assert (gtd["time_in_force"], gtd["expire_time"], gtd["amended_at"]) == (
        "GTD",
        "2027-01-01T00:00:00+00:00",
        T0.isoformat(),
    )
    assert by_id[oco["limit"].pk]["cancel_reason"] == "oco_other_leg"


def test_compliance_exports_order_lists(client, compliance, oco):
    admin_login(client, compliance)

    rows = _export(client, OrderList, [oco["list"].pk])

    assert rows[0]["kind"] == "oco"
    assert rows[0]["status"] == "done"
    assert rows[0]["client_order_id"] == "pair-1"
    assert rows[0]["user_email"] == "oco-trader@example.com"
    assert rows[0]["market_symbol"] == oco["list"].market.symbol


def test_order_list_changelist_queries_do_not_grow_with_rows(client, compliance, oco, django_assert_max_num_queries):
    admin_login(client, compliance)
    _changelist(client, OrderList)
    with django_assert_max_num_queries(40) as captured:
        _changelist(client, OrderList)
    few = len(captured)
    for _ in range(5):
        pair = OrderList.objects.create(market=oco["list"].market, user=oco["list"].user)
        OrderFactory(market=pair.market, user=pair.user, order_list=pair)
        OrderFactory(market=pair.market, user=pair.user, order_list=pair, type=Order.Type.STOP_LIMIT)

    with django_assert_max_num_queries(few):
        response = _changelist(client, OrderList)
    assert len(_ids(response)) == 6
