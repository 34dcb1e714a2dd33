"""JSON in, with numbers kept exact and hostile nesting refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number this API accepts")


class ExactJSONParser(JSONParser):
    """Decode JSON numbers with a fraction as Decimal, never float.

    ``{"quantity": 1.00000000000000001}`` must stay that number (and be refused as off
    the lot size), not become ``1.0``. NaN and Infinity literals are refused, and input
    nested deeper than Python's recursion limit is a 400, not a crash.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
