"""Market operations: halt, resume, fees and order filters (the ``market_ops`` role).

A halted market refuses new orders (``market_halted``, in ``markets.services``); resting
orders stay on the book until their owners cancel them, and resuming reopens it. The
matcher reloads status and fees before every batch, so these take effect without a
restart. Tick and lot sizes are not changed here: the matcher converts resting orders
with the sizes it loaded, so changing them needs a drained book and a matcher restart.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from exchange_site.errors import DomainError, NotFound

from .models import Market

# A fee above 10% is a typo (0.1 for 0.001), not a business decision.
MAX_FEE = Decimal("0.1")


def _validation(message: str, **details: object) -> DomainError:
    return DomainError(message, code="validation_error", details=details)


def _locked(market_id: int) -> Market:
    market = Market.objects.select_for_update().filter(pk=market_id).first()
    if market is None:
        raise NotFound("Market not found.")
    return market


def _set_status(market_id: int, status: str) -> Market:
    with transaction.atomic(durable=True):
        market = _locked(market_id)
        if market.status != status:
            market.status = status
            market.save(update_fields=["status"])
    return market


def market_halt(*, market_id: int) -> Market:
    """Stop accepting orders on the market (idempotent); resting orders stay."""
    return _set_status(market_id, Market.Status.HALTED)


def market_resume(*, market_id: int) -> Market:
    """Accept orders again (idempotent)."""
    return _set_status(market_id, Market.Status.OPEN)


def _check_rate(name: str, value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value > MAX_FEE:
        raise _validation(f"{name} must be between 0 and {MAX_FEE}.", field=name)
    return value


def market_set_fees(*, market_id: int, maker_fee: Decimal, taker_fee: Decimal) -> Market:
    """Set the maker and taker fee rates; trades matched from the next batch on use them."""
    _check_rate("maker_fee", maker_fee)
    _check_rate("taker_fee", taker_fee)
    with transaction.atomic(durable=True):
        market = _locked(market_id)
        market.maker_fee = maker_fee
        market.taker_fee = taker_fee
        market.save(update_fields=["maker_fee", "taker_fee"])
    return market


def market_set_filters(*, market_id: int, min_qty: Decimal, min_notional: Decimal) -> Market:
    """Set the minimum quantity and notional new orders must meet (resting orders are unaffected)."""
    for name, value in (("min_qty", min_qty), ("min_notional", min_notional)):
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise _validation(f"{name} must be zero or more.", field=name)
    with transaction.atomic(durable=True):
        market = _locked(market_id)
        market.min_qty = min_qty
        market.min_notional = min_notional
        market.save(update_fields=["min_qty", "min_notional"])
    return market
