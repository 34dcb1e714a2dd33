"""What the admin index charts show: trading per hour per market, withdrawals waiting, settlement lag.

Read from the one-minute candles (at most 1,440 rows per market for a day), the open
withdrawals and the health report; summed in Python (money is never summed in SQL here:
SQLite stores it as text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from markets.models import Candle, Market
from status.selectors import health_report
from wallets.models import Withdrawal

HOURS = 24
# Buckets of the waiting withdrawals' ages, in hours (upper bounds; the last is open).
AGE_BUCKETS = ((1, "< 1 h"), (4, "1-4 h"), (24, "4-24 h"), (72, "1-3 d"), (None, "> 3 d"))


@dataclass
class MarketHours:
    symbol: str
    quote: str
    hours: list[datetime]
    trades: list[int]
    volume: list[Decimal]

    @property
    def total_trades(self) -> int:
        return sum(self.trades)

    @property
    def total_volume(self) -> Decimal:
        return sum(self.volume, Decimal(0))


@dataclass
class WaitingWithdrawals:
    by_status: dict[str, int] = field(default_factory=dict)
    by_age: list[tuple[str, int]] = field(default_factory=list)
    oldest_hours: float | None = None


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def trading_by_hour(now: datetime | None = None) -> list[MarketHours]:
    """Trades and quote volume per hour over the last 24 hours (the current hour last), per market."""
    now = now or timezone.now()
    first = _hour_floor(now) - timedelta(hours=HOURS - 1)
    hours = [first + timedelta(hours=i) for i in range(HOURS)]
    markets = list(Market.objects.select_related("quote").order_by("symbol"))
    rows = {m.pk: MarketHours(m.symbol, m.quote.code, hours, [0] * HOURS, [Decimal(0)] * HOURS) for m in markets}
    candles = Candle.objects.filter(open_time__gte=first).values_list(
        "market_id", "open_time", "trade_count", "quote_volume"
    )
    for market_id, open_time, count, quote_volume in candles.iterator(chunk_size=5000):
        row = rows.get(market_id)
        index = int((open_time - first).total_seconds() // 3600)
        if row is None or not 0 <= index < HOURS:
            continue
        row.trades[index] += count
        row.volume[index] += quote_volume
    return list(rows.values())


def waiting_withdrawals(now: datetime | None = None) -> WaitingWithdrawals:
    """Withdrawals waiting for staff (pending review, approved not sent), by status and by age."""
    now = now or timezone.now()
    waiting = (Withdrawal.Status.PENDING_REVIEW, Withdrawal.Status.APPROVED)
    result = WaitingWithdrawals(by_status={s.label: 0 for s in waiting})
    counts = [0] * len(AGE_BUCKETS)
    for status, created_at in Withdrawal.objects.filter(status__in=waiting).values_list("status", "created_at"):
        result.by_status[Withdrawal.Status(status).label] += 1
        age = (now - created_at).total_seconds() / 3600
        result.oldest_hours = age if result.oldest_hours is None else max(result.oldest_hours, age)
        for i, (bound, _) in enumerate(AGE_BUCKETS):
            if bound is None or age < bound:
                counts[i] += 1
                break
    result.by_age = [(label, n) for (_, label), n in zip(AGE_BUCKETS, counts, strict=True)]
    return result


def settlement_lag() -> list[tuple[str, int, bool]]:
    """(market, matcher sequences not yet settled, settlement ok) per market."""
    return [(m.symbol, m.settlement_lag, m.settlement_ok) for m in health_report().markets]
