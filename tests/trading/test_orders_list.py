"""GET /api/v1/orders: read in one plain statement, each order as ``OrderOut`` renders it, filtered and paged."""

from __future__ import annotations

import pytest

from markets.models import Order
from tests.factories import ORDER_VARIANTS as VARIANTS
from tests.factories import CurrencyFactory, MarketFactory, OrderFactory, UserFactory, order_variant_fields
from trading.serializers import OrderOut

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(password=None)


def _listed(client, **params) -> dict:
    response = client.get("/api/v1/orders", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_every_order_shape_is_listed_exactly_as_the_serializer_renders_it(market, owner, auth_client):
    for variant in VARIANTS:
        Order.objects.create(**dict(order_variant_fields(market, variant), user=owner))
    expected = [dict(OrderOut(o).data) for o in Order.objects.filter(user=owner).order_by("-id")]
    assert _listed(auth_client(owner)) == {"results": expected, "next": None}


def test_orders_of_several_markets_carry_their_own_symbols(market, owner, auth_client):
    other = MarketFactory(base=CurrencyFactory(code="ETH"), quote=market.quote)
    mine = [OrderFactory(market=m, user=owner) for m in (market, other, market)]
    listed = _listed(auth_client(owner))["results"]
    assert [(o["id"], o["market"]) for o in listed] == [(o.pk, o.market.symbol) for o in reversed(mine)]
    assert [o["id"] for o in _listed(auth_client(owner), market=other.symbol)["results"]] == [mine[1].pk]


def test_status_filters_open_closed_all_and_one_status(market, owner, auth_client):
    new = OrderFactory(market=market, user=owner)
    partial = OrderFactory(market=market, user=owner, status=Order.Status.PARTIALLY_FILLED)
    filled = OrderFactory(market=market, user=owner, status=Order.Status.FILLED)
    canceled = OrderFactory(market=market, user=owner, status=Order.Status.CANCELED)
    client = auth_client(owner)

    def ids(**params):
        return [o["id"] for o in _listed(client, **params)["results"]]

    assert ids(status="open") == [partial.pk, new.pk]
    assert ids(status="closed") == [canceled.pk, filled.pk]
    assert ids(status="all") == ids() == [canceled.pk, filled.pk, partial.pk, new.pk]
    assert ids(status="filled", market=market.symbol) == [filled.pk]


def test_pages_follow_the_cursor_newest_first_to_the_end(market, owner, auth_client):
    orders = [OrderFactory(market=market, user=owner) for _ in range(5)]
    OrderFactory(market=market)  # someone else's
    client = auth_client(owner)
    seen, params = [], {"limit": 2, "market": market.symbol, "status": "open"}
    while True:
        page = _listed(client, **params)
        seen += [o["id"] for o in page["results"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == [o.pk for o in reversed(orders)]
    assert _listed(client, limit=5) == {"results": _listed(client)["results"], "next": None}


@pytest.mark.parametrize(
    "params",
    [{"market": "NOPE-USDT"}, {"status": "sleeping"}, {"limit": "0"}, {"limit": "501"}, {"cursor": "!!"}],
)
def test_bad_filters_and_pages_answer_validation_error(market, owner, auth_client, params):
    response = auth_client(owner).get("/api/v1/orders", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_the_list_is_one_statement_for_orders_of_several_markets(market, owner, auth_client, django_assert_num_queries):
    other = MarketFactory(base=CurrencyFactory(code="ETH"), quote=market.quote)
    for m in (market, other):
        OrderFactory(market=m, user=owner)
    client = auth_client(owner)
    _listed(client)  # this process reads the markets once
    with django_assert_num_queries(1):
        assert len(_listed(client)["results"]) == 2


def test_a_json_client_and_one_that_accepts_no_json(market, owner, auth_client):
    client = auth_client(owner)
    for accept in ("application/json", "*/*", "text/html, */*;q=0.8"):
        response = client.get("/api/v1/orders", HTTP_ACCEPT=accept)
        assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert client.get("/api/v1/orders", HTTP_ACCEPT="text/html").status_code == 406
    assert client.get("/api/v1/orders", {"format": "xml"}).status_code == 404
