"""Binance's error body ``{"code": -NNNN, "msg": "..."}`` for everything under /api/v3.

Services raise the project's domain errors; this is the one place that turns them (and
DRF's and the signing layer's refusals) into Binance's codes and messages.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from apikeys.signing import SignedRequestError
from exchange_site.errors import DomainError

logger = logging.getLogger(__name__)


class BinanceError(SignedRequestError):
    """A refusal of the facade itself, with Binance's code, message and HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(code, msg, status)
        self.headers = headers or {}


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def invalid(name: str) -> BinanceError:
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def unknown_order() -> BinanceError:
    return BinanceError(-2013, "Order does not exist.")


# Domain error code -> (Binance code, message); the message None keeps the service's own.
_DOMAIN: dict[str, tuple[int, str | None]] = {
    "invalid_price": (-1013, "Filter failure: PRICE_FILTER"),
    "invalid_quantity": (-1013, "Filter failure: LOT_SIZE"),
    "min_notional": (-1013, "Filter failure: NOTIONAL"),
    "insufficient_funds": (-2010, "Account has insufficient balance for requested action."),
    "market_halted": (-2010, "Market is closed."),
    "duplicate_client_order_id": (-2010, "Duplicate order sent."),
    "account_frozen": (-2010, "This account may not place or cancel orders."),
    "trading_frozen": (-2010, "This account may not place or cancel orders."),
    "order_not_cancelable": (-2011, "Unknown order sent."),
    "stop_would_trigger": (-2010, "Order would trigger immediately."),
    "order_not_amendable": (-2038, "Unknown order sent."),
    "not_found": (-2013, "Order does not exist."),
    "validation_error": (-1102, None),
}


def body(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


def _response(code: int, msg: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body(code, msg), status=status, headers=headers)


def binance_exception_handler(exc: Exception, context: dict) -> Response:
    """Every refusal under /api/v3 in Binance's shape; an unexpected error is logged and says so."""
    if isinstance(exc, BinanceError):
        return _response(exc.code, exc.msg, exc.status, exc.headers)
    if isinstance(exc, SignedRequestError):
        return _response(exc.code, exc.msg, exc.status)
    if isinstance(exc, DomainError):
        code, msg = _DOMAIN.get(exc.code, (-1000, None))
        # Binance answers every refused request with 400, whatever the project's own status.
        return _response(code, msg or exc.message, 400)
    if isinstance(exc, RequestDataTooBig):
        return _response(-1101, "Too many parameters sent for this endpoint.", 413)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return _response(-1020, "This operation is not supported.", 404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _response(-1020, "This operation is not supported.", 405)
    if isinstance(exc, exceptions.Throttled):
        wait = int((exc.wait or 1) + 0.999)
        return _response(-1003, "Too many requests queued.", 429, {"Retry-After": str(wait)})
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return _response(-2014, "API-key format invalid.", 401)
    if isinstance(exc, exceptions.PermissionDenied):
        return _response(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if isinstance(exc, exceptions.APIException):
        return _response(
            -1102, "Field value was empty or malformed.", exc.status_code if exc.status_code < 500 else 400
        )
    logger.exception("unexpected error under /api/v3", exc_info=exc)
    return _response(-1000, "An unknown error occurred while processing the request.", 500)
