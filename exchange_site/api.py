"""Shared pieces of the REST layer: cursor pagination, path ids, validated input, error docs."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from .errors import DomainError, NotFound


class AnyJSONNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, answered without parsing for the clients of a hot path.

    A request with no ``Accept`` header, ``*/*`` or ``application/json`` (and no
    ``?format=``) gets the first renderer as DRF would pick it (JSON); any other request
    is negotiated by DRF as always (so a client that accepts no JSON still gets 406).
    """

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type == "application/json"
            and accept in ("*/*", "application/json")
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)


MAX_PAGE = 500
DEFAULT_PAGE = 100
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


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


def page_window(request: Request) -> tuple[int, int | None]:
    """The page a paginated list was asked for: ``(limit, before)``, rows with ids below ``before`` (None: newest)."""
    return page_limit(request), _decode_cursor(request.query_params.get("cursor"))


def page_answer(rows: list, limit: int, serialize: Callable[[list], list]) -> dict[str, Any]:
    """``{"results": [...], "next": cursor|null}`` from up to ``limit + 1`` rows read newest first by id.

    The row past ``limit`` is only read to know whether a next page exists.
    """
    more = len(rows) > limit
    rows = rows[:limit]
    return {"results": serialize(rows), "next": _encode_cursor(rows[-1].id) if more and rows else None}


def cursor_page(request: Request, queryset: QuerySet, serialize: Callable[[list], list]) -> Response:
    """Newest-first keyset pagination on ``id``: ``{"results": [...], "next": cursor|null}``."""
    limit, before = page_window(request)
    qs = queryset.order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    return Response(page_answer(list(qs[: limit + 1]), limit, serialize))


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


UNAUTHENTICATED = error_doc("`not_authenticated`: missing, invalid or expired access token.")
# The query parameters of every cursor-paginated list.
PAGE_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 500 (default 100)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="The `next` value of the previous page."),
]


def iso_time(value: datetime | None) -> str | None:
    """A time as the API renders it (DRF's DateTimeField in UTC: ISO 8601 ending in "Z")."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
