"""Money on the ground floor: the one place that converts Decimal amounts to the engine's integers and formats them.

Prices become ticks (multiples of the market's ``tick_size``), quantities lots
(multiples of ``lot_size``), and a quote budget becomes units of
``tick_size * lot_size`` (what one lot costs at one tick).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation

from django.conf import settings

QUANTUM = Decimal(1).scaleb(-settings.MONEY_DECIMAL_PLACES)
# Enough digits that normalizing never rounds a stored amount (36 digits at most).
_FMT_CONTEXT = Context(prec=80)


class PrecisionError(ValueError):
    """The amount is not a whole number of steps."""


def q(value: Decimal) -> Decimal:
    """Round down to the project-wide 18 decimal places."""
    return value.quantize(QUANTUM, rounding=ROUND_DOWN)


def to_steps(value: Decimal, step: Decimal) -> int:
    """Return value / step as an int, refusing anything that is not a whole multiple."""
    try:
        steps, rest = divmod(value, step)
    except InvalidOperation as exc:
        raise PrecisionError(str(exc)) from exc
    if rest != 0:
        raise PrecisionError(f"{value} is not a multiple of {step}")
    return int(steps)


def from_steps(steps: int, step: Decimal) -> Decimal:
    return q(Decimal(steps) * step)


def budget_units(quote: Decimal, tick_size: Decimal, lot_size: Decimal) -> int:
    """Whole ``tick*lot`` units a quote amount can pay for (rounded down: never overspend)."""
    return int((quote / (tick_size * lot_size)).to_integral_value(rounding=ROUND_DOWN))


def fmt(value: Decimal | None) -> str | None:
    """Plain-notation decimal string without trailing zeros: "0.015", never "1.5E-2"."""
    if value is None:
        return None
    if value == 0:
        return "0"
    # An explicit context, not ``localcontext()``: entering one costs more than the formatting.
    return format(value.normalize(_FMT_CONTEXT), "f")
