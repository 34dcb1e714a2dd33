"""GET /api/v1/health: every part up is 200; Redis down, a silent matcher or stuck settlement is 503."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from markets.models import Market
from matching.heartbeat import PROCESS_KEY, Heart
from tests.factories import MarketFactory
from wallets.models import SettlementCursor

pytestmark = pytest.mark.django_db

URL = "/api/v1/health"


@pytest.fixture(autouse=True)
def _no_old_beats():
    cache.delete_many([PROCESS_KEY, *(f"matcher:heartbeat:{i}" for i in range(1, 200))])


@pytest.fixture
def markets(db):
    btc = MarketFactory()
    eth = MarketFactory(base__code="ETH", base__name="Ether", quote=btc.quote)
    return btc, eth


def beat(markets) -> None:
    """What the matcher loop does each round (matching/runner.py)."""
    Heart().beat(m.pk for m in markets)


def test_everything_up_answers_200_with_each_part(api, markets):
    btc, eth = markets
    Market.objects.filter(pk=btc.pk).update(last_sequence=7)
    SettlementCursor.objects.create(market=btc, settled_sequence=7)
    beat(markets)

    resp = api.get(URL)

    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["redis"]["ok"] is True
    assert body["matcher"]["ok"] is True
    assert 0 <= body["matcher"]["last_beat_age_ms"] < 5000
    rows = {m["symbol"]: m for m in body["markets"]}
    assert rows["BTC-USDT"]["matched_sequence"] == 7
    assert rows["BTC-USDT"]["settlement_lag"] == 0
    assert rows["ETH-USDT"]["settled_sequence"] == 0
    assert rows["ETH-USDT"]["settlement_ok"] is True
    assert body["time"].endswith("Z")
    assert resp["Cache-Control"].startswith("max-age=0")


def test_no_matcher_heartbeat_is_503(api, markets):
    resp = api.get(URL)
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "down"
    assert body["matcher"] == {"ok": False, "last_beat_age_ms": None}
    assert all(m["matcher_ok"] is False for m in body["markets"])


def test_a_stale_heartbeat_is_503(api, markets, settings):
    beat(markets)
    settings.HEALTH_MATCHER_STALE_SECONDS = 0.05
    time.sleep(0.1)
    resp = api.get(URL)
    assert resp.status_code == 503
    assert resp.json()["matcher"]["ok"] is False
    assert resp.json()["matcher"]["last_beat_age_ms"] >= 100


def test_a_market_the_matcher_does_not_hold_is_503(api, markets):
    beat(markets[:1])
    resp = api.get(URL)
    assert resp.status_code == 503
    rows = {m["symbol"]: m for m in resp.json()["markets"]}
    assert rows["BTC-USDT"]["matcher_ok"] is True
    assert rows["ETH-USDT"]["matcher_ok"] is False


def test_settlement_stuck_behind_the_matcher_is_503_with_its_lag(api, markets):
    btc, _ = markets
    Market.objects.filter(pk=btc.pk).update(last_sequence=12)
    SettlementCursor.objects.create(market=btc, settled_sequence=9)
    beat(markets)
    assert api.get(URL).status_code == 200  # the cursor moved just now: settlement is working on it

    SettlementCursor.objects.filter(market=btc).update(updated_at=timezone.now() - timedelta(minutes=5))
    resp = api.get(URL)
    assert resp.status_code == 503
    row = next(m for m in resp.json()["markets"] if m["symbol"] == "BTC-USDT")
    assert (row["settlement_lag"], row["settlement_ok"]) == (3, False)


def test_redis_down_is_503(api, markets, settings):
    beat(markets)
    dead = "redis://127.0.0.1:9/0"  # nothing listens on port 9
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    resp = api.get(URL)
    assert resp.status_code == 503
    body = resp.json()
    assert body["redis"] == {"ok": False, "configured": True}
    assert body["database"] == {"ok": True}
    assert body["matcher"]["ok"] is False


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_reads_are_allowed(api, method):
    resp = getattr(api, method)(URL, {"status": "ok"}, format="json")
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"


def test_hostile_query_strings_and_credentials_change_nothing(api, markets):
    beat(markets)
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    resp = api.get(URL + "?status=ok&" + "a=" + "x" * 4000)
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
