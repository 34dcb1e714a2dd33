"""``{% dashboard_charts %}`` on the admin index: charts for the staff allowed to see their data."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from backoffice.charts import bar_chart
from backoffice.dashboard import settlement_lag, trading_by_hour, waiting_withdrawals
from backoffice.money import money

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html", takes_context=True)
def dashboard_charts(context: Any) -> dict[str, Any]:
    user = context["request"].user
    charts: dict[str, Any] = {"markets": [], "withdrawals": None, "lag": None}
    if user.has_perm("markets.view_trade"):
        for row in trading_by_hour():
            labels = [h.strftime("%H:00") for h in row.hours]
            slug = row.symbol.lower()
            charts["markets"].append(
                {
                    "symbol": row.symbol,
                    "quote": row.quote,
                    "total_trades": row.total_trades,
                    "total_volume": money(row.total_volume, 2),
                    "volume_chart": bar_chart(
                        row.volume,
                        labels,
                        title=f"{row.symbol} volume per hour ({row.quote})",
                        css_id=f"chart-volume-{slug}",
                    ),
                    "trades_chart": bar_chart(
                        row.trades,
                        labels,
                        title=f"{row.symbol} trades per hour",
                        css_id=f"chart-trades-{slug}",
                        color="#79aec8",
                    ),
                }
            )
    if user.has_perm("wallets.view_withdrawal"):
        waiting = waiting_withdrawals()
        charts["withdrawals"] = {
            "by_status": waiting.by_status,
            "oldest": None if waiting.oldest_hours is None else f"{waiting.oldest_hours:.1f} h",
            "chart": bar_chart(
                [n for _, n in waiting.by_age],
                [label for label, _ in waiting.by_age],
                title="Withdrawals waiting, by age",
                css_id="chart-withdrawal-age",
                color="#ba2121",
            ),
        }
    if user.has_perm("markets.view_market"):
        lag = settlement_lag()
        charts["lag"] = {
            "rows": lag,
            "chart": bar_chart(
                [n for _, n, _ in lag],
                [s for s, _, _ in lag],
                title="Settlement lag (matcher sequences not yet settled)",
                css_id="chart-settlement-lag",
                color="#e6a117",
            ),
        }
    return {"charts": charts}


@register.filter(name="grouped")
def grouped(value: object) -> str:
    """A plain decimal string (as the API serializes it) with thousands separators; anything else as is."""
    try:
        return money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return "" if value is None else str(value)
