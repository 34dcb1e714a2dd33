"""Markets admin: configuration is editable, matcher output is read-only and lists stay cheap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from markets.models import BookSnapshot, Candle, Currency, Market, Order, Trade
from tests.factories import UserFactory
from tests.markets.data_helpers import make_candle, make_snapshot, make_trade, quick_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_request():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(password=None, is_staff=True, is_superuser=True)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


@pytest.mark.parametrize("model", [Currency, Market])
def test_currencies_and_markets_are_editable(admin_request, model):
    model_admin = admin.site._registry[model]

    assert model_admin.has_add_permission(admin_request)
    assert model_admin.has_change_permission(admin_request)


@pytest.mark.parametrize("model", [Order, Trade, Candle, BookSnapshot])
def test_matcher_output_is_read_only_even_for_superusers(admin_request, model):
    model_admin = admin.site._registry[model]

    assert model_admin.has_view_permission(admin_request)
    assert not model_admin.has_add_permission(admin_request)
    assert not model_admin.has_change_permission(admin_request)
    assert not model_admin.has_delete_permission(admin_request)


def test_market_sequence_cannot_be_edited_by_hand(admin_request, market):
    assert "last_sequence" in admin.site._registry[Market].get_readonly_fields(admin_request, market)


def test_change_lists_render_in_a_bounded_number_of_queries(admin_request, market, django_assert_max_num_queries):
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    for i in range(3):
        make_trade(market, price=str(100 + i), quantity="1", time=t0 + timedelta(minutes=i))
        make_candle(market, t0 + timedelta(minutes=i), open="1")
    make_snapshot(market, sequence=1, bids=[], asks=[])
    few = {}
    for model in (Currency, Market, Order, Trade, Candle, BookSnapshot):
        with django_assert_max_num_queries(30) as captured:
            response = admin.site._registry[model].changelist_view(admin_request)
            response.render()
        assert response.status_code == 200, model
        few[model] = len(captured)

    maker, taker = quick_user(), quick_user()
    for i in range(20):
        make_trade(market, price="100", quantity="1", time=t0 + timedelta(hours=1, minutes=i), maker=maker, taker=taker)
    for model in (Order, Trade):
        with django_assert_max_num_queries(few[model]):
            admin.site._registry[model].changelist_view(admin_request).render()
