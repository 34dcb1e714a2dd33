"""``exchange_site.request_reads``: the markets version rides with the user read and is never stale across requests."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from exchange_site import request_reads
from markets.models import Market
from markets.selectors_cached import _VERSION_KEY, market_by_symbol, markets_version_bump
from tests.factories import fund

pytestmark = pytest.mark.django_db

# The module's receivers of request_started / request_finished (the signals themselves
# would also close the test transaction's connection).
_request_started, _request_finished = request_reads._request_started, request_reads._request_finished

ORDER = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.1"}


def _another_process_halts(market: Market) -> None:
    """What a halt in another process leaves here: the row changed, the shared version replaced."""
    Market.objects.filter(pk=market.pk).update(status=Market.Status.HALTED)
    cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def test_a_halt_elsewhere_is_refused_on_the_very_next_order(market, make_trader, auth_client):
    alice = make_trader()
    fund(alice, market.quote, "100000")
    client = auth_client(alice)
    assert client.post("/api/v1/orders", ORDER, format="json").status_code == 201
    _another_process_halts(market)
    response = client.post("/api/v1/orders", ORDER, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "market_halted"


def test_values_are_remembered_only_inside_a_request_and_until_it_ends():
    cache.set("rr:test", "one")
    request_reads.ride_along("rr:test")
    request_reads.read_with(["rr:user"])
    assert request_reads.remembered("rr:test") is None  # outside a request: nothing kept
    _request_started()
    try:
        assert request_reads.read_with(["rr:user"]) == {}  # the riders are not handed to the caller
        cache.set("rr:test", "two")
        assert request_reads.remembered("rr:test") == "one"
        request_reads.forget("rr:test")
        assert request_reads.remembered("rr:test") is None
    finally:
        _request_finished()
        request_reads._riders.remove("rr:test")
    assert request_reads.remembered("rr:test") is None


def test_a_change_in_this_process_is_seen_at_once_within_the_request(market):
    _request_started()
    try:
        request_reads.read_with(["rr:user"])
        assert market_by_symbol(symbol=market.symbol).status == Market.Status.OPEN
        market.status = Market.Status.HALTED
        market.save()  # bumps the version (markets_version_bump), forgetting the remembered one
        assert market_by_symbol(symbol=market.symbol).status == Market.Status.HALTED
        markets_version_bump()
        assert request_reads.remembered(_VERSION_KEY) is None
    finally:
        _request_finished()
