"""Hand-written hostile input against every write endpoint and the list endpoints' query parameters.

Every hostile request must answer a 4xx in the API's error format and change nothing:
no row inserted or deleted, no balance, lock, order, withdrawal or device touched. Each
endpoint first proves that its unmodified payload is accepted, so that every refusal
below is due to the one hostile value sent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.services import two_factor_setup
from tests.backoffice.helpers import fresh_otp
from tests.factories import PASSWORD
from tests.otp import totp_code

from . import payloads
from .helpers import assert_error_format, refused_and_unchanged, report_failures
from .world import World

pytestmark = pytest.mark.django_db


def _unconfirmed_code(user) -> str:
    return totp_code(TOTPDevice.objects.get(user=user, confirmed=False))


@dataclass(frozen=True)
class Write:
    """A write endpoint: how to call it validly, and the kind of each of its fields."""

    name: str
    method: str
    path: Callable[[World], str]
    actor: str | None
    valid: Callable[[World], dict]
    fields: dict[str, str]
    required: tuple[str, ...]
    accepted: int
    signed: bool = False
    prepare: Callable[[World], None] = field(default=lambda world: None)


WRITES = [
    Write(
        "register",
        "post",
        lambda w: "/api/v1/auth/register",
        None,
        lambda w: {"email": "newcomer-2@example.com", "password": "Plenty-of-entropy-42"},
        {"email": "text", "password": "text"},
        ("email", "password"),
        201,
    ),
    Write(
        "token",
        "post",
        lambda w: "/api/v1/auth/token",
        None,
        lambda w: {"email": w.trader.user.email, "password": PASSWORD, "otp": fresh_otp(w.trader.user)},
        {"email": "text", "password": "text", "otp": "text"},
        ("email", "password", "otp"),
        200,
    ),
    Write(
        "token refresh",
        "post",
        lambda w: "/api/v1/auth/token/refresh",
        None,
        lambda w: {"refresh": w.trader.refresh},
        {"refresh": "text"},
        ("refresh",),
        200,
    ),
    Write(
        "logout",
        "post",
        lambda w: "/api/v1/auth/logout",
        "trader",
        lambda w: {"refresh": w.trader.refresh},
        {"refresh": "text"},
        ("refresh",),
        205,
    ),
    Write(
        "2fa setup",
        "post",
        lambda w: "/api/v1/auth/2fa/setup",
        "newcomer",
        lambda w: {"password": PASSWORD},
        {"password": "text"},
        ("password",),
        200,
    ),
    Write(
        "2fa confirm",
        "post",
        lambda w: "/api/v1/auth/2fa/confirm",
        "newcomer",
        lambda w: {"otp": _unconfirmed_code(w.newcomer.user), "password": PASSWORD},
        {"otp": "text", "password": "text"},
        ("otp", "password"),
        200,
        prepare=lambda w: two_factor_setup(user=w.newcomer.user),
    ),
    Write(
        "order place",
        "post",
        lambda w: "/api/v1/orders",
        "trader",
        lambda w: {
            "market": w.market.symbol,
            "side": "buy",
            "type": "limit",
            "price": "100.5",
            "quantity": "0.02",
            "time_in_force": "GTC",
            "post_only": False,
            "client_order_id": "hostile-base-1",
            "self_trade_prevention": "cancel_taker",
        },
        {
            "market": "market",
            "side": "choice",
            "type": "choice",
            "price": "money",
            "quantity": "money",
            "quote_quantity": "optional money",
            "time_in_force": "choice",
            "post_only": "boolean",
            "client_order_id": "client_order_id",
            "self_trade_prevention": "choice",
        },
        ("market", "side", "type", "price", "quantity"),
        201,
    ),
    Write(
        "withdrawal request",
        "post",
        lambda w: "/api/v1/withdrawals",
        "trader",
        lambda w: {
            "currency": w.btc.code,
            "amount": "0.1",
            "address": "bc1qhostilebase0001",
            "otp": fresh_otp(w.trader.user),
        },
        {"currency": "currency", "amount": "money", "address": "address", "otp": "text"},
        ("currency", "amount", "address", "otp"),
        201,
    ),
    Write(
        "custody deposit",
        "post",
        lambda w: "/api/v1/custody/deposits",
        None,
        lambda w: {
            "currency": w.btc.code,
            "address": w.trader_btc_address,
            "amount": "0.5",
            "txid": "hostile-txid-0001",
            "confirmations": 2,
        },
        {"currency": "currency", "address": "text", "amount": "money", "txid": "text", "confirmations": "count"},
        ("currency", "address", "amount", "txid", "confirmations"),
        200,
        signed=True,
    ),
    Write(
        "back-office approve",
        "post",
        lambda w: f"/api/v1/backoffice/withdrawals/{w.trader.withdrawals[0].pk}/approve",
        "officer",
        lambda w: {"comment": "checked"},
        {"comment": "text"},
        (),
        200,
    ),
    Write(
        "back-office reject",
        "post",
        lambda w: f"/api/v1/backoffice/withdrawals/{w.trader.withdrawals[0].pk}/reject",
        "officer",
        lambda w: {"reason": "address on a sanctions list"},
        {"reason": "text"},
        ("reason",),
        200,
    ),
    Write(
        "back-office sent",
        "post",
        lambda w: f"/api/v1/backoffice/withdrawals/{w.other.withdrawals[0].pk}/sent",
        "officer",
        lambda w: {"txid": "payout-txid-0001"},
        {"txid": "text"},
        ("txid",),
        200,
        prepare=lambda w: _approve(w, w.other.withdrawals[0].pk),
    ),
]
WRITE_IDS = [w.name for w in WRITES]


def _approve(world: World, withdrawal_id: int) -> None:
    from wallets.withdrawals import withdrawal_approve

    withdrawal_approve(actor=world.officer.user, withdrawal_id=withdrawal_id, comment="")


def _client(world: World, actor: str | None) -> APIClient:
    return getattr(world, actor).client() if actor else APIClient()


def _send(world: World, write: Write, body: bytes, content_type: str = "application/json"):
    extra = {}
    if write.signed:
        signature = hmac.new(settings.CUSTODY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        extra["HTTP_X_CUSTODY_SIGNATURE"] = signature
    client = _client(world, write.actor)
    return getattr(client, write.method)(write.path(world), data=body, content_type=content_type, **extra)


def _refused_and_unchanged(world: World, send: Callable[[], object], label: str, failures: list[str]) -> None:
    refused_and_unchanged(send, label, failures, kind="hostile bodies and field values")


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_the_unmodified_payload_is_accepted(world, write):
    """The control: without a hostile value, the same request succeeds."""
    write.prepare(world)
    response = _send(world, write, payloads.encode(write.valid(world)))
    assert response.status_code == write.accepted, response.content


def _hostile_requests(world: World, write: Write):
    """(label, raw body, content type) of every hostile request for ``write``."""
    valid = write.valid
    for name, kind in write.fields.items():
        for label, value in payloads.KINDS[kind].items():
            yield f"{name}={label}", payloads.encode({**valid(world), name: value}), "application/json"
    for name in write.required:
        yield (
            f"without {name}",
            payloads.encode({k: v for k, v in valid(world).items() if k != name}),
            "application/json",
        )
    # Unknown and privileged fields beside a bad value: still refused, and never acted on.
    extras = {
        "user_id": world.other.user.pk,
        "user": world.other.user.email,
        "is_staff": True,
        "status": "completed",
        "id": 1,
        "__proto__": {"admin": True},
    }
    for name in write.fields:
        body = payloads.encode({**valid(world), name: ["not", "valid"], **extras})
        yield f"{name} bad + privileged extras", body, "application/json"
    for label, (body, content_type) in payloads.whole_bodies(valid(world)).items():
        if label == "empty body" and not write.required:
            continue  # no field is required: an empty body is a valid request
        yield label, body, content_type


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_hostile_payloads_are_refused_and_change_nothing(world, write):
    """Hostile field values, missing fields, privileged extras and malformed bodies: 4xx, nothing written."""
    write.prepare(world)
    failures: list[str] = []
    for label, body, content_type in _hostile_requests(world, write):
        send = lambda body=body, ct=content_type: _send(world, write, body, ct)  # noqa: E731
        _refused_and_unchanged(world, send, label, failures)
    report_failures(failures)


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_json_nested_too_deep_for_the_parser_is_refused(world, write):
    """Deeper than Python's decoder can recurse, yet far below the upload limit: once a 500 (RecursionError)."""
    write.prepare(world)
    failures: list[str] = []
    for label, body in payloads.DEEPLY_NESTED.items():
        send = lambda body=body: _send(world, write, body)  # noqa: E731
        _refused_and_unchanged(world, send, f"nested {label}", failures)
    report_failures(failures)


def test_a_json_number_is_never_silently_rounded(world):
    """1.00000000000000001 is not a multiple of the lot size; decoded as a float it once became 1."""
    body = b'{"market": "BTC-USDT", "side": "buy", "type": "limit", "price": 100, "quantity": 1.00000000000000001}'
    response = world.trader.client().post("/api/v1/orders", data=body, content_type="application/json")
    assert assert_error_format(response, status=400)["code"] == "invalid_quantity"


def test_privileged_extra_fields_on_a_valid_request_are_ignored(world):
    """Unknown fields are dropped, never assigned: no staff account, no order or withdrawal in another's name."""
    from accounts.models import User
    from markets.models import Order
    from wallets.models import Withdrawal

    mallory = world.other.user
    privileged = {"user_id": mallory.pk, "user": mallory.pk, "id": 1, "is_staff": True, "is_superuser": True}
    response = APIClient().post(
        "/api/v1/auth/register",
        {"email": "climber@example.com", "password": "Plenty-of-entropy-42", **privileged, "groups": ["back_office"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    climber = User.objects.get(email="climber@example.com")
    assert not (climber.is_staff)
    assert not (climber.is_superuser)
    assert not (climber.groups.exists())

    client = world.trader.client()
    order_write = next(w for w in WRITES if w.name == "order place")
    response = client.post(
        "/api/v1/orders",
        {**order_write.valid(world), **privileged, "status": "filled", "filled_quantity": "0.02", "fee": "0"},
        format="json",
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.user_id, order.status, order.filled_quantity) == (world.trader.user.pk, "new", 0)

    withdrawal_write = next(w for w in WRITES if w.name == "withdrawal request")
    response = client.post(
        "/api/v1/withdrawals",
        {**withdrawal_write.valid(world), **privileged, "status": "approved", "fee": "0", "required_approvals": 0},
        format="json",
    )
    assert response.status_code == 201, response.content
    withdrawal = Withdrawal.objects.get(pk=response.json()["id"])
    assert (withdrawal.user_id, withdrawal.status) == (world.trader.user.pk, Withdrawal.Status.PENDING_REVIEW)
    assert withdrawal.required_approvals >= 1
