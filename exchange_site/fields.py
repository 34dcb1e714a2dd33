"""Strict input and output fields every API shares.

A JSON number is never quietly turned into text, ``true`` never into 1, and money is
parsed and rendered as exact plain-notation decimals at the project's precision.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .money import fmt

_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


@extend_schema_field(OpenApiTypes.STR)
class MoneyOut(serializers.Field):
    """Render a Decimal in plain notation without trailing noise ("0.015")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str | None:
        return fmt(value)


@extend_schema_field({"type": "string", "pattern": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$", "example": "0.015"})
class MoneyIn(serializers.Field):
    """Parse a positive decimal (string or JSON number); refuse NaN, Infinity and out-of-range values."""

    default_error_messages = {
        "invalid": 'A valid decimal number in plain notation is required (e.g. "0.015").',
        "positive": "Must be greater than zero.",
        "precision": "At most {places} decimal places and {digits} digits.",
    }

    def __init__(self, *, allow_zero: bool = False, error_code: str = "invalid", **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        self.error_code = error_code
        super().__init__(**kwargs)

    def fail(self, key: str, **kwargs: Any):  # type: ignore[override]
        # Every refusal of this field carries the field's API code (e.g. invalid_price).
        raise serializers.ValidationError(self.error_messages[key].format(**kwargs), code=self.error_code)

    def to_internal_value(self, data: Any) -> Decimal:
        # Decimal: what a JSON parser with parse_float=Decimal hands over for a JSON number.
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        text = str(data).strip()
        if len(text) > 64:
            self.fail("invalid")
        # Text must be plain ASCII notation: Decimal() alone also takes "1_000", "1E-8" and non-ASCII digits.
        if isinstance(data, str) and not _PLAIN_DECIMAL.fullmatch(text):
            self.fail("invalid")
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not value.is_finite():
            self.fail("invalid")
        places = settings.MONEY_DECIMAL_PLACES
        digits = settings.MONEY_MAX_DIGITS
        sign, digit_tuple, exponent = value.as_tuple()
        if isinstance(exponent, int) and exponent < -places:
            if value != value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
                raise serializers.ValidationError(
                    self.error_messages["precision"].format(places=places, digits=digits), code=self.error_code
                )
        if abs(value) >= Decimal(10) ** (digits - places):
            raise serializers.ValidationError(
                self.error_messages["precision"].format(places=places, digits=digits), code=self.error_code
            )
        if value < 0 or (value == 0 and not self.allow_zero):
            raise serializers.ValidationError(self.error_messages["positive"], code=self.error_code)
        return value

    def to_representation(self, value: Decimal) -> str | None:
        return fmt(value)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers instead of turning them into text."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    default_error_messages = {"invalid": "Enter a valid email address."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that takes JSON integers only: no "1", 1.0 or true."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes JSON true and false only: no "yes", 1 or "true"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
