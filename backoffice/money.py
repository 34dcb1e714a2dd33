"""Money in admin lists at the currency's precision, with thousands separators.

Every amount is a ``MoneyField`` (18 decimal places), which Django's admin would show
as ``51000.000000000000000000``. The columns of money fields in every list are replaced
by ones that format the value at the precision of the row's currency (its ``currency``,
or the market's quote for prices and base for quantities): ``51,000.000000``. A value
with more decimals than the precision (fees, rates) keeps them: nothing is rounded away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db.models import Model

from exchange_site.db import MoneyField
from markets.models import Currency, Market

# Columns of market rows (orders, trades, candles) by the currency they are counted in.
QUOTE_COLUMNS = {"price", "quote_quantity", "open", "high", "low", "close", "min_notional", "tick_size"}
BASE_COLUMNS = {"quantity", "filled_quantity", "volume", "lot_size", "min_qty"}
_CACHE_SECONDS = 30.0
_cache: dict[str, Any] = {"at": 0.0}


def _precisions() -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
    """Currency precisions and market (base, quote) ids, re-read every 30 s (a handful of rows)."""
    if time.monotonic() - _cache["at"] > _CACHE_SECONDS:
        _cache["currencies"] = dict(Currency.objects.values_list("pk", "precision"))
        _cache["markets"] = {pk: (b, q) for pk, b, q in Market.objects.values_list("pk", "base_id", "quote_id")}
        _cache["at"] = time.monotonic()
    return _cache["currencies"], _cache["markets"]


def precisions_forget(**kwargs: Any) -> None:
    """A currency or market was saved: read the precisions again on the next list."""
    _cache["at"] = 0.0


def money(value: Decimal | None, precision: int | None = None) -> str:
    """``1234567.5`` at precision 2 -> ``1,234,567.50``; without a precision, normalized."""
    if value is None:
        return "-"
    exponent = value.normalize().as_tuple().exponent
    needed = max(0, -exponent) if isinstance(exponent, int) else 0
    places = needed if precision is None else max(precision, needed)  # never round a digit away
    return f"{value:,.{places}f}"


def row_precision(obj: Model, column: str) -> int | None:
    currencies, markets = _precisions()
    if isinstance(obj, Currency):
        return obj.precision
    currency_id = getattr(obj, "currency_id", None)
    if currency_id is not None:
        return currencies.get(currency_id)
    market_id = getattr(obj, "market_id", None)
    if market_id is None and isinstance(obj, Market):
        market_id = obj.pk
    if market_id is not None and market_id in markets:
        base, quote = markets[market_id]
        if column in QUOTE_COLUMNS:
            return currencies.get(quote)
        if column in BASE_COLUMNS:
            return currencies.get(base)
    return None


def money_column(model: type[Model], name: str) -> Callable[[Model], str]:
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def column(obj: Model) -> str:
        return money(getattr(obj, name), row_precision(obj, name))

    column.__name__ = f"{name}_money"
    return column


def money_columns_install(site: AdminSite) -> None:
    """Swap the money-field columns of every registered list for formatted ones."""
    for model, model_admin in site._registry.items():
        money_fields = {f.name for f in model._meta.concrete_fields if isinstance(f, MoneyField)}
        display = list(model_admin.list_display)
        if not money_fields.intersection(n for n in display if isinstance(n, str)):
            continue
        model_admin.list_display = [
            money_column(model, n) if isinstance(n, str) and n in money_fields else n for n in display
        ]
