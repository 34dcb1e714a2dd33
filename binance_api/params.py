"""Request parameters as Binance takes them: query string and form body, the query winning.

Parsed from the raw bytes (the same bytes the signature covers), never through a JSON
parser; every refusal is one of Binance's parameter errors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from django.conf import settings

from .errors import BinanceError, invalid, mandatory

MAX_PARAMETERS = 64
_DIGITS = re.compile(r"[0-9]{1,19}")
_DECIMAL = re.compile(r"[0-9]{1,40}(\.[0-9]{1,40})?|\.[0-9]{1,40}")


def _pairs(raw: str, source: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict", max_num_fields=MAX_PARAMETERS)
    except UnicodeDecodeError:
        raise BinanceError(-1100, f"Illegal characters found in a parameter ({source}).") from None
    except ValueError:
        raise BinanceError(-1101, "Too many parameters sent for this endpoint.") from None
    result: dict[str, str] = {}
    for name, value in pairs:
        if name in result:
            raise BinanceError(-1101, "Duplicate values for a parameter detected.")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value):
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name[:32]}'.")
        result[name] = value
    return result


class Params:
    """The request's parameters with Binance's typed getters."""

    def __init__(self, *, query: str, body: bytes) -> None:
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter (body).") from None
        self.values = _pairs(body_text, "body")
        self.values.update(_pairs(query, "query"))

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value == "":
            raise BinanceError(-1105, f"Parameter '{name}' was empty.")
        return value

    def has(self, name: str) -> bool:
        return name in self.values

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def integer(
        self, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = 2**63 - 1
    ) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        if not _DIGITS.fullmatch(raw):
            raise BinanceError(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,19}}$'."
            )
        value = int(raw)
        if not minimum <= value <= maximum:
            raise invalid(name)
        return value

    def millis(self, name: str) -> datetime | None:
        """A time parameter (epoch ms, or µs as Binance also accepts) as an aware datetime."""
        value = self.integer(name, maximum=10**17)
        if value is None:
            return None
        if value >= 10**14:
            value //= 1000
        if value > 253402300799999:  # past year 9999
            raise invalid(name)
        return datetime.fromtimestamp(value / 1000, tz=UTC)

    def decimal(self, name: str) -> Decimal | None:
        """A positive amount in plain notation, at most the money precision the database holds."""
        raw = self.get(name)
        if raw is None:
            return None
        if not _DECIMAL.fullmatch(raw):
            raise BinanceError(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]+)(\\.[0-9]+)?$'."
            )
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise invalid(name) from None
        places = settings.MONEY_DECIMAL_PLACES
        if value != value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
            raise BinanceError(-1111, f"Parameter '{name}' has too much precision.")
        if value >= settings.MONEY_LIMIT:
            raise BinanceError(-1108, f"Parameter '{name}' overflowed.")
        return value

    def choice(
        self, name: str, choices: dict[str, object] | tuple[str, ...], *, code: int = -1130, msg: str = ""
    ) -> str | None:
        raw = self.get(name)
        if raw is None:
            return None
        if raw not in choices:
            raise BinanceError(code, msg) if msg else invalid(name)
        return raw

    def boolean(self, name: str, *, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise invalid(name)
        return lowered == "true"
