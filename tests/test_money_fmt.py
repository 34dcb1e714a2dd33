"""``fmt`` renders every amount the API and the matcher publish: plain notation, no trailing zeros."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from exchange_site.money import fmt


def reference(value: Decimal | None) -> str | None:
    """The original definition: normalize in an 80-digit local context."""
    if value is None:
        return None
    if value == 0:
        return "0"
    with localcontext(prec=80):
        return format(value.normalize(), "f")


def test_fmt_examples():
    assert fmt(None) is None
    assert fmt(Decimal("0E-18")) == "0"
    assert fmt(Decimal("-0")) == "0"
    assert fmt(Decimal("0.015000000000000000")) == "0.015"
    assert fmt(Decimal("1E+3")) == "1000"
    assert fmt(Decimal("25000.100000000000000000")) == "25000.1"
    assert fmt(Decimal("-0.5")) == "-0.5"
    assert fmt(Decimal("123456789012345678.123456789012345678")) == "123456789012345678.123456789012345678"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=18, min_value=-(10**18), max_value=10**18))
def test_fmt_matches_the_original_definition(value):
    assert fmt(value) == reference(value)


@given(st.integers(min_value=-(10**36), max_value=10**36), st.integers(min_value=-30, max_value=30))
def test_fmt_matches_the_original_definition_at_any_exponent(digits, exponent):
    value = Decimal(digits).scaleb(exponent)
    assert fmt(value) == reference(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=18, min_value=-(10**18), max_value=10**18))
def test_fmt_ignores_a_narrow_context_of_the_caller(value):
    with localcontext(prec=3):
        assert fmt(value) == reference(value)
        assert "E" not in fmt(value).upper()
