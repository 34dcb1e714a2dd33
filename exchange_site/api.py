"""Shared pieces of the REST layer: money fields, cursor pagination."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from markets.precision import fmt

from .errors import DomainError, NotFound

MAX_PAGE = 500
DEFAULT_PAGE = 100
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


def _decode_cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        value = int(base64.urlsafe_b64decode(raw.encode() + b"==").decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise DomainError("Invalid cursor.", code="validation_error") from exc
    if value <= 0:
        raise DomainError("Invalid cursor.", code="validation_error")
    return value


def _encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def page_limit(request: Request, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except ValueError as exc:
        raise DomainError("limit must be an integer.", code="validation_error") from exc
    if limit < 1 or limit > maximum:
        raise DomainError(f"limit must be between 1 and {maximum}.", code="validation_error")
    return limit


def cursor_page(request: Request, queryset: QuerySet, serialize: Callable[[list], list]) -> Response:
    """Newest-first keyset pagination on ``id``: ``{"results": [...], "next": cursor|null}``."""
    limit = page_limit(request)
    before = _decode_cursor(request.query_params.get("cursor"))
    qs = queryset.order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return Response({"results": serialize(rows), "next": _encode_cursor(rows[-1].id) if more and rows else None})


# Largest id a bigint primary key can hold: a larger one in a path is "not found", never a 5xx.
MAX_ID = 2**63 - 1


def checked_id(pk: int, what: str) -> int:
    """A path id that can exist, or ``NotFound`` naming ``what``."""
    if not 0 < pk <= MAX_ID:
        raise NotFound(f"{what} not found.")
    return pk


def valid_input(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validated input, or the API's ``validation_error`` (raised by DRF, mapped once)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def error_doc(description: str) -> OpenApiResponse:
    """An OpenAPI response for an error answer in the API's error format."""
    return OpenApiResponse(description=f'{description} Body: {{"error": {{"code", "message", "details"}}}}.')
