"""``exchange_site.money.fmt``: plain notation, normalized, whatever the caller's decimal context."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from exchange_site.money import fmt

# Every amount a numeric(36, 18) column can hold, signed, with its stored trailing zeros.
STORED = st.decimals(min_value=Decimal("-1e18"), max_value=Decimal("1e18"), places=18, allow_nan=False)


def _reference(value: Decimal) -> str:
    """The formatting as first written (a local context per call)."""
    if value == 0:
        return "0"
    with localcontext(prec=80):
        return format(value.normalize(), "f")


@given(STORED)
def test_fmt_gives_the_plain_normalized_string_of_any_stored_amount(value):
    assert fmt(value) == _reference(value)
    assert "E" not in fmt(value).upper()


@given(STORED)
def test_fmt_ignores_a_narrow_context_of_the_caller(value):
    with localcontext(prec=3):
        assert fmt(value) == _reference(value)


def test_fmt_examples():
    assert fmt(Decimal("0.000000010000000000")) == "0.00000001"
    assert fmt(Decimal("100.010000000000000000")) == "100.01"
    assert fmt(Decimal("1E+3")) == "1000"
    assert fmt(Decimal("0E-18")) == "0"
    assert fmt(None) is None
