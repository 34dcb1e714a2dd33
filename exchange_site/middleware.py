"""Refuse request text that no database column can hold, before any view runs."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .errors import error_body


class RejectControlCharactersMiddleware:
    """NUL bytes in the path or query string answer 400 instead of a database error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in raw_query or "\x00" in raw_query:
            body = error_body("validation_error", "NUL characters are not allowed in the URL.")
            if request.path.startswith("/api/v3/"):
                # The Binance-compatible surface answers in Binance's error shape (binance_api/errors.py).
                body = {"code": -1100, "msg": "Illegal characters found in a parameter."}
            return HttpResponse(json.dumps(body), status=400, content_type="application/json")
        return self.get_response(request)
