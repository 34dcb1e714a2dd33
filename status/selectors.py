"""The exchange's health, part by part: database, Redis, matcher heartbeat, settlement lag.

One report feeds ``GET /api/v1/health`` (load balancers, monitoring), the landing page
and the admin dashboard. A part is down when it does not answer, when a market's matcher
has not beaten for ``HEALTH_MATCHER_STALE_SECONDS``, or when a market has matched
sequences that settlement has not applied and its cursor has not moved for
``HEALTH_SETTLEMENT_STALE_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone

from markets.models import Market
from matching.heartbeat import last_beats
from wallets.models import SettlementCursor

logger = logging.getLogger(__name__)


@dataclass
class MarketHealth:
    symbol: str
    status: str
    matcher_ok: bool
    matcher_beat_age_ms: int | None
    matched_sequence: int
    settled_sequence: int
    settlement_lag: int
    settlement_ok: bool


@dataclass
class Health:
    ok: bool
    time: str
    database: dict[str, Any]
    redis: dict[str, Any]
    matcher: dict[str, Any]
    markets: list[MarketHealth] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["status"] = "ok" if self.ok else "down"
        del body["ok"]
        return body


def _age_ms(beat: float | None, now: float) -> int | None:
    return None if beat is None else max(0, round((now - beat) * 1000))


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        logger.warning("health: database unreachable", exc_info=True)
        return False


def _redis_ok() -> bool | None:
    """None when no Redis is configured (the embedded default)."""
    if not settings.REDIS_URL:
        return None
    try:
        cache.set("health:probe", 1, timeout=10)
        return cache.get("health:probe") == 1
    except Exception:
        logger.warning("health: Redis unreachable", exc_info=True)
        return False


def _markets(now: float, beats: dict[int, float | None] | None) -> list[MarketHealth]:
    matcher_stale = settings.HEALTH_MATCHER_STALE_SECONDS
    settlement_stale = settings.HEALTH_SETTLEMENT_STALE_SECONDS
    cursors = {c.market_id: c for c in SettlementCursor.objects.all()}
    rows = []
    for market in Market.objects.order_by("symbol").only("id", "symbol", "status", "last_sequence"):
        beat_age = _age_ms((beats or {}).get(market.pk), now)
        cursor = cursors.get(market.pk)
        settled = cursor.settled_sequence if cursor else 0
        lag = max(0, market.last_sequence - settled)
        idle_for = (timezone.now() - cursor.updated_at).total_seconds() if cursor else None
        rows.append(
            MarketHealth(
                symbol=market.symbol,
                status=market.status,
                matcher_ok=beat_age is not None and beat_age <= matcher_stale * 1000,
                matcher_beat_age_ms=beat_age,
                matched_sequence=market.last_sequence,
                settled_sequence=settled,
                settlement_lag=lag,
                settlement_ok=lag == 0 or (idle_for is not None and idle_for <= settlement_stale),
            )
        )
    return rows


def health_report() -> Health:
    """Check every part once; never raises (a part that fails is reported down)."""
    now = time.time()
    database = _database_ok()
    redis = _redis_ok()
    process_beat, beats = None, None
    markets: list[MarketHealth] = []
    beats_readable = redis is not False
    if database:
        ids = list(Market.objects.values_list("pk", flat=True))
        if beats_readable:
            try:
                process_beat, beats = last_beats(ids)
            except Exception:  # noqa: BLE001 - the cache failed between the probe and this read
                beats_readable = False
        try:
            markets = _markets(now, beats)
        except DatabaseError:
            database = False
    process_age = _age_ms(process_beat, now)
    matcher_ok = (
        beats_readable
        and process_age is not None
        and process_age <= settings.HEALTH_MATCHER_STALE_SECONDS * 1000
        and all(m.matcher_ok for m in markets)
    )
    ok = database and redis is not False and matcher_ok and all(m.settlement_ok for m in markets)
    return Health(
        ok=bool(ok),
        time=timezone.now().isoformat().replace("+00:00", "Z"),
        database={"ok": database},
        redis={"ok": redis is not False, "configured": redis is not None},
        matcher={"ok": bool(matcher_ok), "last_beat_age_ms": process_age},
        markets=markets,
    )
