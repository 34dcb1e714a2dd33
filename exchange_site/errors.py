"""One place that maps exceptions to the API's error format.

``{"error": {"code": "<snake_case>", "message": "...", "details": {...}}}``
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the request; services raise these, the API maps them."""

    code = "bad_request"
    status_code = 400
    message = "The request was refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.details = details or {}
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    status_code = 404
    message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status_code = 409


class InvalidInput(DomainError):
    """Input a service refused (``details.field`` names it when there is one)."""

    code = "validation_error"
    message = "Invalid input."

    @classmethod
    def field(cls, name: str, message: str, **details: object) -> InvalidInput:
        return cls(message, details={"field": name, **details})

    @classmethod
    def fields(cls, errors: dict[str, list[str]]) -> InvalidInput:
        """From a form's errors: the first one as the message, all of them in ``details.fields``."""
        name, messages = next(iter(errors.items()))
        return cls(f"{name}: {messages[0]}", details={"fields": errors})


def clean_text(value: str | None, *, name: str, required: bool, max_length: int) -> str:
    """Stripped free text (a reason, a txid, ...) within ``max_length``; required means not blank."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput.field(name, f"{name} is required.")
    if len(text) > max_length:
        raise InvalidInput.field(name, f"{name} must be at most {max_length} characters.")
    return text


def error_body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    code: str, message: str, status_code: int, details: dict | None = None, headers: dict | None = None
) -> Response:
    return Response(error_body(code, message, details), status=status_code, headers=headers)


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            return msg if key in ("detail", "non_field_errors") else f"{key}: {msg}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_plain(v) for v in detail]
    return str(detail)


def url_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A URL no route matches (``/api/v1/orders/abc``): the error format under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return page_not_found(request, exception)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.status_code, exc.details)
    if isinstance(exc, RequestDataTooBig):
        # Raised while DRF reads a body above DATA_UPLOAD_MAX_MEMORY_SIZE; Django alone would answer an HTML 400.
        return error_response("validation_error", "Request body too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    # An APIException of our own (e.g. throttles.AuthLimitsUnavailable) names its code.
    code = getattr(exc, "default_code", None) or "error"
    for klass, mapped in _DRF_CODES.items():
        if isinstance(exc, klass):
            code = mapped
            break
    detail = getattr(exc, "detail", None)
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        details = {"fields": _plain(detail)} if isinstance(detail, dict) else {"errors": _plain(detail)}
        # A serializer may raise a ValidationError carrying one of the API's codes.
        codes = exc.get_codes()
        flat = (
            codes
            if isinstance(codes, list)
            else [
                c
                for v in (codes.values() if isinstance(codes, dict) else [])
                for c in (v if isinstance(v, list) else [v])
            ]
        )
        for c in flat:
            if isinstance(c, str) and c in API_VALIDATION_CODES:
                code = c
                break
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after": int(exc.wait + 0.999)}
    response.data = error_body(code, _first_message(detail) if detail is not None else str(exc), details)
    return response


# Serializer errors raised with one of these codes surface as that code, not validation_error.
API_VALIDATION_CODES = {
    "invalid_price",
    "invalid_quantity",
    "min_notional",
    "market_halted",
    "insufficient_funds",
    "unknown_market",
}
