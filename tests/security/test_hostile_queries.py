"""Hostile query parameters on the list endpoints and hostile ids in the paths.

Each must answer a 4xx in the API's error format (400 for a bad parameter, 404 for an
id that names nothing of the caller's) and change nothing.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from .helpers import refused_and_unchanged, report_failures
from .world import World

pytestmark = pytest.mark.django_db


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LIMIT = {
    "zero": "0",
    "negative": "-1",
    "over the maximum": "100000",
    "beyond 64 bits": "9" * 30,
    "1e400": "1e400",
    "exponent": "1e2",
    "fraction": "1.5",
    "word": "ten",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "hex": "0x10",
    "very long": "9" * 5000,
    "right-to-left override": "\u202e5",
    "emoji": "\U0001f522",
}
CURSOR = {
    "not base64": "!!!",
    "percent signs": "%%%",
    "zero": _b64("0"),
    "negative": _b64("-5"),
    "not a number": _b64("abc"),
    "fraction": _b64("1.5"),
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    "emoji": "\U0001f600",
    "very long garbage": "A" * 10_001,
}
MARKET = {
    "unknown": "DOGE-USDT",
    "lower case": "btc-usdt",
    "emoji": "\U0001f680-USDT",
    "sql": "BTC-USDT' OR '1'='1",
    "very long": "B" * 10_000,
}
CURRENCY = {
    "unknown": "DOGE",
    "emoji": "\U0001fa99",
    "sql": "BTC' OR '1'='1",
    "very long": "B" * 10_000,
}
STATUS = {"unknown": "bogus", "upper case": "OPEN", "emoji": "\U0001f7e2", "very long": "x" * 10_000}
INTERVAL = {"unknown": "2m", "upper case": "1D", "suffix": "1m;", "emoji": "\u23f0"}
TIME = {
    "word": "yesterday",
    "1e400": "1e400",
    "beyond the range": "9" * 30,
    "impossible date": "2020-13-45T25:61:00",
    "before the epoch": "-1",
    "very long": "2" * 5000,
    "emoji": "\U0001f570",
}

PAGED = {"limit": LIMIT, "cursor": CURSOR}
LISTS = [
    ("/api/v1/orders", "trader", {**PAGED, "market": MARKET, "status": STATUS}),
    ("/api/v1/trades", "trader", {**PAGED, "market": MARKET}),
    ("/api/v1/pnl", "trader", {"market": MARKET}),
    ("/api/v1/ledger", "trader", {**PAGED, "currency": CURRENCY}),
    ("/api/v1/deposits", "trader", {**PAGED, "currency": CURRENCY}),
    ("/api/v1/withdrawals", "trader", {**PAGED, "currency": CURRENCY, "status": STATUS}),
    ("/api/v1/backoffice/withdrawals", "officer", {**PAGED, "status": STATUS}),
    ("/api/v1/deposits/address", "trader", {"currency": {**CURRENCY, "missing": None}}),
    ("/api/v1/markets/BTC-USDT/depth", None, {"limit": LIMIT}),
    ("/api/v1/markets/BTC-USDT/trades", None, {"limit": LIMIT}),
    ("/api/v1/markets/BTC-USDT/candles", None, {"limit": LIMIT, "interval": INTERVAL, "start": TIME, "end": TIME}),
]


def _client(world: World, actor: str | None) -> APIClient:
    return getattr(world, actor).client() if actor else APIClient()


def _check(world: World, method: str, url: str, actor: str | None, label: str, failures: list[str]) -> None:
    kind = "hostile query parameters and path ids"
    refused_and_unchanged(lambda: getattr(_client(world, actor), method)(url), label, failures, kind=kind)


@pytest.mark.parametrize(("path", "actor", "params"), LISTS, ids=[path for path, _, _ in LISTS])
def test_hostile_query_parameters_are_refused(world, path, actor, params):
    failures: list[str] = []
    for name, values in params.items():
        for label, value in values.items():
            url = path if value is None else f"{path}?{name}={quote(value, safe='')}"
            _check(world, "get", url, actor, f"{name}={label}", failures)
    report_failures(failures)


def test_cancel_all_with_a_hostile_market_is_refused_and_cancels_nothing(world):
    failures: list[str] = []
    for label, value in {**MARKET, "empty": ""}.items():
        _check(world, "delete", f"/api/v1/orders?market={quote(value, safe='')}", "trader", label, failures)
    _check(world, "delete", "/api/v1/orders", "trader", "no market", failures)
    report_failures(failures)


HOSTILE_IDS = {
    "zero": "0",
    "negative": "-1",
    "word": "abc",
    "fraction": "1.5",
    "exponent": "1e3",
    "largest bigint": str(2**63 - 1),
    "beyond 64 bits": str(2**63),
    "beyond any integer column": "9" * 30,
    "emoji": quote("\U0001f600"),
    "NUL": "1%00",
    "null": "null",
    "encoded slash": "1%2F2",
}
ID_PATHS = [
    ("get", "/api/v1/orders/{}", "trader"),
    ("delete", "/api/v1/orders/{}", "trader"),
    ("post", "/api/v1/withdrawals/{}/cancel", "trader"),
    ("get", "/api/v1/backoffice/withdrawals/{}", "officer"),
    ("post", "/api/v1/backoffice/withdrawals/{}/approve", "officer"),
    ("post", "/api/v1/backoffice/withdrawals/{}/reject", "officer"),
    ("post", "/api/v1/backoffice/withdrawals/{}/sent", "officer"),
]


@pytest.mark.parametrize(("method", "template", "actor"), ID_PATHS, ids=[f"{m} {t}" for m, t, _ in ID_PATHS])
def test_hostile_ids_in_the_path_find_nothing_and_change_nothing(world, method, template, actor):
    failures: list[str] = []
    for label, value in HOSTILE_IDS.items():
        _check(world, method, template.format(value), actor, label, failures)
    report_failures(failures)


def test_hostile_client_order_ids_in_the_path_find_nothing(world):
    failures: list[str] = []
    hostile = {
        "unknown": "no-such-order",
        "very long": "c" * 5000,
        "NUL": "a%00b",
        "emoji": quote("\U0001f600"),
        "traversal": "..%2F..%2Forders",
        "sql": quote("x' OR '1'='1", safe=""),
        "wildcard": "%25",
        "another user's": world.other.orders[0].client_order_id,
    }
    for label, value in hostile.items():
        _check(world, "get", f"/api/v1/orders/by-client-id/{value}", "trader", label, failures)
    report_failures(failures)
