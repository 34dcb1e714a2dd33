"""The hand-written list of hostile values and bodies, by the kind of field they attack.

Each list holds values that no field of that kind may accept; the tests send them one
field at a time into an otherwise valid payload, so a refusal is due to that value.
"""

from __future__ import annotations

import json

# A value that encodes as the bare JSON token NaN / Infinity (not valid JSON).
JSON_NAN = float("nan")
JSON_INFINITY = float("inf")


class RawNumber(str):
    """A JSON number token written verbatim (``1e400``), which no Python value encodes to."""


MONEY_TOKENS: dict[str, RawNumber] = {
    "1e400 token": RawNumber("1e400"),
    "-1e400 token": RawNumber("-1e400"),
    "400-digit integer token": RawNumber("1" + "0" * 400),
    "tiny exponent token": RawNumber("1e-400"),
    "negative token": RawNumber("-0.5"),
}


WRONG_TYPES: dict[str, object] = {
    "list": [],
    "list of a value": ["1"],
    "object": {},
    "object of a value": {"value": "1"},
    "null": None,
    "true": True,
    "false": False,
}

MONEY: dict[str, object] = {
    "negative": "-1",
    "negative number": -1,
    "negative zero": "-0.01",
    "zero": "0",
    "zero number": 0,
    "NaN": "NaN",
    "sNaN": "sNaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "inf": "inf",
    "JSON NaN token": JSON_NAN,
    "JSON Infinity token": JSON_INFINITY,
    "1e400": "1e400",
    "1e400 number": 1e400,  # json.dumps writes Infinity: the number overflows a float
    "exponent": "1E-8",
    "40 integer digits": "1" * 40,
    "40 decimal digits": "0." + "0" * 39 + "1",
    "40 digits both sides": "1" * 20 + "." + "1" * 20,
    "huge JSON number": 10**40,
    "hex": "0x10",
    "underscore": "1_000",
    "comma": "1,5",
    "two dots": "1.2.3",
    "trailing text": "100abc",
    "empty": "",
    "blank": "   ",
    "NUL": "1\x00",
    "emoji": "\U0001f4b0",
    "right-to-left override": "\u202e001",
    "very long": "9" * 10_000,
    "sql": "1; DROP TABLE wallets_wallet; --",
    **WRONG_TYPES,
    **MONEY_TOKENS,
}

TEXT: dict[str, object] = {
    "number": 12345678,
    "float": 1.5,
    "NUL": "abc\x00def",
    "lone surrogate": "\ud800",
    "very long": "x" * 10_000,
    **{name: value for name, value in WRONG_TYPES.items() if name != "null"},
    "null": None,
}

CHOICE: dict[str, object] = {
    "unknown": "sideways",
    "upper case": "BUY",
    "number": 1,
    "empty": "",
    "unicode look-alike": "\u0432uy",  # Cyrillic ve
    "NUL": "buy\x00",
    "very long": "b" * 10_000,
    **WRONG_TYPES,
}

MARKET: dict[str, object] = {
    "unknown market": "DOGE-USDT",
    "lower case": "btc-usdt",
    "reversed": "USDT-BTC",
    "no dash": "BTCUSDT",
    "unicode dash": "BTC\u2011USDT",
    "emoji": "\U0001f680-USDT",
    "NUL": "BTC-USDT\x00",
    "sql": "BTC-USDT' OR '1'='1",
    "very long": "B" * 10_000,
    "number": 1,
    "empty": "",
    **WRONG_TYPES,
}

CURRENCY: dict[str, object] = {
    "unknown": "DOGE",
    "emoji": "\U0001fa99",
    "NUL": "BTC\x00",
    "sql": "BTC' OR '1'='1",
    "very long": "B" * 10_000,
    "number": 1,
    "empty": "",
    **WRONG_TYPES,
}

BOOLEAN: dict[str, object] = {
    "word": "maybe",
    "number 2": 2,
    "float": 0.5,
    "list": [],
    "object": {},
    "null": None,
    "NUL": "true\x00",
}

CLIENT_ORDER_ID: dict[str, object] = {
    "too long": "c" * 65,
    "space": "my order",
    "slash": "a/b",
    "unicode": "\u00e9t\u00e9",
    "NUL": "a\x00b",
    "empty": "",
    "number": 12345,
    **{name: value for name, value in WRONG_TYPES.items() if name != "null"},
}

COUNT: dict[str, object] = {
    "negative": -1,
    "beyond 32 bits": 2**31,
    "beyond 64 bits": 2**64,
    "1e400": 1e400,
    "float": 1.5,
    "text": "two",
    "NaN token": JSON_NAN,
    **WRONG_TYPES,
}

ADDRESS: dict[str, object] = {
    "too short": "abc",
    "space": "bc1q example",
    "unicode": "bc1q\u00e9xample00",
    "NUL": "bc1qexample\x00",
    "very long": "a" * 10_000,
    "number": 12345678,
    "empty": "",
    **WRONG_TYPES,
}

KINDS = {
    "money": MONEY,
    "optional money": {name: value for name, value in MONEY.items() if name != "null"},
    "text": TEXT,
    "choice": CHOICE,
    "market": MARKET,
    "currency": CURRENCY,
    "boolean": BOOLEAN,
    "client_order_id": CLIENT_ORDER_ID,
    "count": COUNT,
    "address": ADDRESS,
}


def encode(payload: object) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity as bare tokens, raw number tokens verbatim."""
    raw: dict[str, str] = {}

    def swap(value: object) -> object:
        if isinstance(value, RawNumber):
            marker = f"__raw_number_{len(raw)}__"
            raw[marker] = str(value)
            return marker
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    text = json.dumps(swap(payload), allow_nan=True)
    for marker, token in raw.items():
        text = text.replace(f'"{marker}"', token)
    return text.encode()


def whole_bodies(valid: dict) -> dict[str, tuple[bytes, str]]:
    """Bodies that are wrong as a whole: (raw bytes, content type) by name."""
    as_json = encode(valid)
    return {
        "not JSON": (b"market=BTC-USDT&side=buy", "application/json"),
        "truncated JSON": (as_json[: len(as_json) // 2], "application/json"),
        "JSON array": (encode([valid]), "application/json"),
        "JSON string": (b'"hello"', "application/json"),
        "JSON number": (b"42", "application/json"),
        "JSON null": (b"null", "application/json"),
        "empty body": (b"", "application/json"),
        "invalid UTF-8": (b'{"a": "\xff\xfe"}', "application/json"),
        "UTF-8 BOM": (b"\xef\xbb\xbf" + as_json, "application/json"),
        "UTF-16": (json.dumps(valid).encode("utf-16"), "application/json"),
        "oversized": (encode({**valid, "padding": "x" * (300 * 1024)}), "application/json"),
        "text/plain": (as_json, "text/plain"),
        "form-encoded": (b"a=1&b=2", "application/x-www-form-urlencoded"),
        "multipart": (
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--",
            "multipart/form-data; boundary=x",
        ),
        "XML": (b"<order><market>BTC-USDT</market></order>", "application/xml"),
    }


# Nested deeper than Python's JSON decoder can recurse (still far below the upload limit).
DEEPLY_NESTED = {
    "array": b"[" * 100_000,
    "object": b'{"a":' * 50_000,
}
