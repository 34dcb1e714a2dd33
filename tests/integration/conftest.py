from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from markets.models import Market, Order
from tests.factories import PASSWORD, MarketFactory, UserFactory, fund
from tools.waiting import wait_until
from wallets.models import SettlementCursor

from .stack import Stack, free_port, process_env


@pytest.fixture
def flush_redis():
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def stack(transactional_db, flush_redis):
    """The Procfile's web (granian), ws (daphne), run_matcher and a Celery worker on the test database."""
    s = Stack(port=free_port(), env=process_env())
    try:
        s.start("web")
        s.start("ws")
        s.start("matcher")
        s.start("worker")
        s.wait_http()
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def live_market(transactional_db):
    return MarketFactory()


class Trader:
    """A trader driving the live API over HTTP with a real JWT."""

    def __init__(self, base_url: str, user) -> None:
        self.user = user
        self.http = httpx.Client(base_url=base_url, timeout=30)
        resp = self.http.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access']}"

    def place(self, **body) -> httpx.Response:
        body.setdefault("market", "BTC-USDT")
        return self.http.post("/api/v1/orders", json=body)

    def order(self, order_id: int) -> dict:
        return self.http.get(f"/api/v1/orders/{order_id}").json()

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        rows = self.http.get("/api/v1/balances").json()
        return {r["currency"]: (Decimal(r["balance"]), Decimal(r["locked"])) for r in rows}


@pytest.fixture
def make_live_trader(transactional_db):
    def _make(stack: Stack, market: Market, *, base: str = "0", quote: str = "0") -> Trader:
        user = UserFactory()
        if Decimal(base):
            fund(user, market.base, base)
        if Decimal(quote):
            fund(user, market.quote, quote)
        return Trader(stack.url, user)

    return _make


def wait_settled(market: Market, timeout: float = 60) -> None:
    """Wait until the matcher has taken every command and settlement has caught up."""

    def caught_up() -> bool:
        pending = (
            Order.objects.filter(market=market, status=Order.Status.NEW).exists()
            or Order.objects.filter(
                market=market, status__in=Order.RESTING_STATUSES, cancel_requested_at__isnull=False
            ).exists()
        )
        last = Market.objects.values_list("last_sequence", flat=True).get(pk=market.pk)
        settled = SettlementCursor.objects.filter(market=market).values_list("settled_sequence", flat=True).first()
        return not pending and (last == 0 or settled == last)

    wait_until(caught_up, timeout, what="the matcher and settlement to catch up", interval=0.1)
