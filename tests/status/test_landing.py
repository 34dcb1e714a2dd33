"""The landing page at /: what this is, working links, matcher and settlement health, server time; nothing remote."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from markets.models import Market
from matching.heartbeat import Heart
from tests.factories import MarketFactory, UserFactory
from wallets.models import SettlementCursor

pytestmark = pytest.mark.django_db


def test_landing_page_links_work_and_shows_lag_per_market():
    market = MarketFactory()
    Market.objects.filter(pk=market.pk).update(last_sequence=5)
    SettlementCursor.objects.create(market=market, settled_sequence=2)
    Heart().beat([market.pk])
    client = Client()

    resp = client.get("/")

    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/html")
    html = resp.content.decode()
    assert "Exchange back end" in html
    assert 'id="server-time"' in html
    row = re.search(r'<tr class="market-row">(.*?)</tr>', html, re.S).group(1)
    assert "BTC-USDT" in row
    assert ">5<" in row
    assert ">2<" in row
    assert ">3<" in row
    links = dict(re.findall(r'<a id="link-([a-z]+)" href="([^"]+)"', html))
    assert links == {
        "docs": "/api/v1/docs/",
        "schema": "/api/v1/schema/",
        "admin": "/admin/",
        "health": "/api/v1/health",
    }
    assert client.get(links["docs"]).status_code == 200
    assert client.get(links["schema"]).status_code == 200
    assert client.get(links["admin"]).status_code == 302  # to the login page
    assert client.get(links["health"]).status_code in (200, 503)


def test_landing_page_loads_nothing_from_elsewhere():
    html = Client().get("/").content.decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_landing_page_says_when_a_part_is_down():
    MarketFactory()
    html = Client().get("/").content.decode()  # no matcher has beaten
    assert "a part is down" in html
    assert "no heartbeat seen" in html


def test_landing_page_refuses_writes():
    assert Client().post("/", {"x": "1"}).status_code == 405


def test_the_admin_view_site_link_goes_to_the_landing_page(settings):
    settings.ADMIN_REQUIRE_OTP = False
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    html = client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in html
