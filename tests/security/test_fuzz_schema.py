"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis).

Every operation of ``/api/v1/schema/`` is called in-process (WSGI) with cases generated
from the schema: the examples and coverage phases (boundary and schema-violating values,
missing parameters, wrong methods) and a seeded fuzzing phase of valid and invalid data.
Each answer must not be a 5xx, must use a documented status code, content type and body
shape, and every 4xx must carry the API's error format. Calls go out with a real JWT
from the token endpoint; schemathesis also probes each private operation without and
with a broken token (``ignored_auth``).

Cases are reproducible: a fixed seed and no example database. ``FUZZ_MAX_EXAMPLES``
raises the fuzzing budget per operation for a longer local run.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet

from exchange_site.wsgi import application
from tests.backoffice.helpers import fresh_otp

from .helpers import FUZZ_STATS, assert_error_format

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
SEED = 20260601

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        # One operation at a time; chains of calls (stateful phase) are the soak's business.
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Schema-valid input is still refused by business rules (tick size, funds, OTP),
            # so "valid data must be accepted" does not hold for this API.
            "positive_data_acceptance": {"enabled": False},
        },
    }
)


def _with_empty_query_values(raw: dict) -> dict:
    """The served schema plus ``allowEmptyValue`` on query parameters.

    The API treats an empty query parameter (``?limit=``) as an absent one, on purpose
    (tests/markets/test_candles_api.py); drf-spectacular cannot say so per parameter, so
    the schema under test adds it. Nothing else of the served schema is changed.
    """
    patched = copy.deepcopy(raw)
    for item in patched["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
    return patched


schema = schemathesis.openapi.from_dict(
    _with_empty_query_values(schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=CONFIG).raw_schema),
    config=CONFIG,
)
schema.app = application

BACK_OFFICE_TAG = "back office"
SIGNATURE_HEADER = "X-Custody-Signature"
# Cases are partly built at collection time, before any user exists: they carry a
# placeholder that the test swaps for the real token of its user at call time.
PLACEHOLDER = "Bearer <token of the test's user>"


@schema.auth(refresh_interval=None)
class _JwtAuth:
    """Mark the case as authenticated; which token goes out is decided when it is sent."""

    def get(self, case, context):
        return PLACEHOLDER

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = data


@pytest.fixture
def fuzz_world(world):
    """Let the in-process WSGI app share the test's database connection."""
    # Django closes connections around each request it serves; the test client disconnects
    # these handlers, and the in-process WSGI calls must too (the test's transaction would go).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield world
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _auth_headers(case, world) -> dict[str, str]:
    """The real token in place of the placeholder: back-office staff for back-office operations, else the trader."""
    if (case.headers or {}).get("Authorization") != PLACEHOLDER:
        return {}
    actor = world.officer if BACK_OFFICE_TAG in (case.operation.tags or []) else world.trader
    return actor.auth


def _is_positive(case) -> bool:
    return case.meta is None or case.meta.generation.mode.is_positive


# Amounts that pass the market's and currency's filters, so that some cases get past them.
_PLAUSIBLE = {
    "/api/v1/orders": {"price": "100.5", "quantity": "0.02"},
    "/api/v1/withdrawals": {"amount": "0.01", "address": "fuzz-address-0001"},
    "/api/v1/custody/deposits": {"amount": "0.25"},
}


def _real_references(case, world) -> str | None:
    """Make every third and fourth positive case of an operation name real things: mine, then someone else's.

    Generated values almost never hit an existing row, market or currency; these cases
    reach the paths behind the lookups (tick sizes, funds, state transitions) and try
    other users' objects by id. Returns whose objects were named, if any.
    """
    turn = FUZZ_STATS.per_operation[case.operation.label] % 4
    if turn < 2:
        return None
    owner = world.trader if turn == 2 else world.other
    named = None
    params = dict(case.path_parameters or {})
    if "order_id" in params:
        params["order_id"], named = owner.orders[-1].pk, owner
    if "client_order_id" in params:
        params["client_order_id"], named = owner.orders[0].client_order_id, owner
    if "id" in params:
        params["id"], named = owner.withdrawals[0].pk, owner
    if "symbol" in params:
        params["symbol"] = world.market.symbol
    if params:
        case.path_parameters = params
    for container in ("query", "body"):
        values = getattr(case, container)
        if not isinstance(values, dict):
            continue
        values = dict(values)
        if "market" in values:
            values["market"] = world.market.symbol
        if "currency" in values:
            values["currency"] = world.btc.code if turn == 2 else world.usdt.code
        if container == "body" and turn == 2:
            values.update(_PLAUSIBLE.get(case.operation.path, {}))
            if case.operation.path == "/api/v1/custody/deposits":
                values.update(currency=world.btc.code, address=world.trader_btc_address)
            if case.operation.path == "/api/v1/withdrawals":
                values["otp"] = fresh_otp(world.trader.user)
        setattr(case, container, values)
    if named is None:
        return None
    return "mine" if named is world.trader else "theirs"


def _signed_body(case) -> bytes | None:
    """Sign a custody notice the way custody does, so that the fuzzer gets past the signature check.

    Only cases that send the signature header at all (a case may leave it out on purpose)
    and whose body is JSON; the body is sent as the exact bytes signed.
    """
    if SIGNATURE_HEADER not in (case.headers or {}) or isinstance(case.body, NotSet):
        return None
    if not (case.media_type or "").startswith("application/json"):
        return None
    try:
        body = json.dumps(case.body).encode()
    except (TypeError, ValueError):
        return None
    signature = hmac.new(settings.CUSTODY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    case.headers = {**(case.headers or {}), SIGNATURE_HEADER: signature}
    return body


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.django_db
def test_every_operation_answers_within_its_schema_and_never_with_a_5xx(case, fuzz_world):
    kwargs = {"headers": _auth_headers(case, fuzz_world)}
    whose = None
    if _is_positive(case):
        whose = _real_references(case, fuzz_world)
    if case.operation.path == "/api/v1/custody/deposits":
        body = _signed_body(case)
        if body is not None:
            kwargs["data"] = body
    response = case.call_and_validate(**kwargs)
    FUZZ_STATS.record(case.operation.label, response.status_code)
    if 400 <= response.status_code < 500:
        assert_error_format(_DjangoLike(response))
    if whose == "theirs" and BACK_OFFICE_TAG not in (case.operation.tags or []):
        # A trader naming another trader's order or withdrawal learns nothing but "not found".
        assert response.status_code in (401, 404), (case.operation.label, response.status_code, response.content)


class _DjangoLike:
    """Just enough of a Django test response for ``assert_error_format``."""

    def __init__(self, response) -> None:
        self.status_code = response.status_code
        self.content = response.content
        self._headers = {k.lower(): v[0] for k, v in response.headers.items()}

    def __getitem__(self, name: str) -> str:
        return self._headers.get(name.lower(), "")

    def json(self):
        return json.loads(self.content)
