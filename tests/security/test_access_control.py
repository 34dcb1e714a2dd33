"""Access control: every private operation of the schema, refused without a valid token; no data
of another user reachable by id or visible in any list; the back office closed to everyone but
staff with the ``back_office`` role (and read-only for compliance).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.roles import BACK_OFFICE
from apikeys.models import ApiKey
from markets.models import Currency, Order, OrderList
from tests.backoffice.helpers import make_staff
from tests.factories import UserFactory
from wallets.models import Deposit, LedgerEntry, Withdrawal, WithdrawalAddress

from .helpers import HAND_WRITTEN, assert_error_format, state
from .world import World, login

pytestmark = pytest.mark.django_db

BACK_OFFICE_PREFIX = "/api/v1/backoffice/"


# -- the private operations, from the schema ------------------------------------------------


def _schema() -> dict:
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def private_operations() -> list[tuple[str, str]]:
    """(method, path template) of every operation the schema says needs a JWT."""
    operations = []
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            if any("jwtAuth" in requirement for requirement in operation.get("security", [])):
                operations.append((method, path))
    return sorted(operations)


def test_the_schema_marks_exactly_the_expected_operations_private(db):
    """A new endpoint must be classified here: public, or private and covered by the tests below."""
    public = {
        ("get", "/api/v1/time"),
        ("get", "/api/v1/currencies"),
        ("get", "/api/v1/markets"),
        ("get", "/api/v1/markets/{symbol}"),
        ("get", "/api/v1/markets/{symbol}/depth"),
        ("get", "/api/v1/markets/{symbol}/trades"),
        ("get", "/api/v1/markets/{symbol}/candles"),
        ("get", "/api/v1/markets/{symbol}/ticker"),
        ("get", "/api/v1/tickers"),
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/auth/token/refresh"),
        ("post", "/api/v1/auth/password/reset"),
        ("post", "/api/v1/auth/password/reset/confirm"),
        ("post", "/api/v1/custody/deposits"),
    }
    every = {(method, path) for path, item in _schema()["paths"].items() for method in item}
    assert every - set(private_operations()) == public
    assert len(private_operations()) == 47


def _key_of(user) -> int | None:
    """The id of ``user``'s API key (the world gives each trader one)."""
    return ApiKey.objects.filter(user=user).values_list("pk", flat=True).first()


def _url(world: World, path: str) -> str:
    """A concrete URL naming the trader's own objects."""
    if "{key_id}" in path:
        path = path.replace("{key_id}", str(_key_of(world.trader.user)))
    return (
        path.replace("{order_id}", str(world.trader.orders[-1].pk))
        .replace("{client_order_id}", world.trader.orders[0].client_order_id)
        .replace("{id}", str(world.trader.withdrawals[0].pk))
        .replace("{symbol}", world.market.symbol)
        .replace("{list_id}", str(_list_of(world.trader.user)))
    ) + ("?market=BTC-USDT" if path == "/api/v1/orders" else "")


def _list_of(user) -> int:
    """The id of ``user``'s OCO order list (the world gives each trader one)."""
    return OrderList.objects.filter(user=user).values_list("pk", flat=True).get()


def _call(client: APIClient, method: str, url: str, **extra):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(url, data={}, format="json", **extra)
    return getattr(client, method)(url, **extra)


# -- tokens that must not work -------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _expired(world: World) -> str:
    token = AccessToken.for_user(world.trader.user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=15))
    return f"Bearer {token}"


def _signature_changed(world: World) -> str:
    header, payload, signature = world.trader.access.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"Bearer {header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def _payload_changed(world: World) -> str:
    """Alice's signature over a payload that now names mallory."""
    header, payload, signature = world.trader.access.split(".")
    claims = _unb64(payload)
    claims["user_id"] = type(claims["user_id"])(world.other.user.pk)
    return f"Bearer {header}.{_b64(claims)}.{signature}"


def _alg_none(world: World) -> str:
    claims = _unb64(world.trader.access.split(".")[1])
    return f"Bearer {_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _other_key(world: World) -> str:
    claims = _unb64(world.trader.access.split(".")[1])
    return "Bearer " + jwt.encode(claims, "not-the-server-key-" + "x" * 32, algorithm="HS256")


def _deleted_user(world: World) -> str:
    ghost = login(UserFactory(email="ghost@example.com"))
    ghost.user.delete()
    return f"Bearer {ghost.access}"


def _deactivated_user(world: World) -> str:
    sleeper = login(UserFactory(email="sleeper@example.com"))
    sleeper.user.is_active = False
    sleeper.user.save(update_fields=["is_active"])
    return f"Bearer {sleeper.access}"


def _deactivated_officer(world: World) -> str:
    officer = login(make_staff(BACK_OFFICE, email="former-officer@example.com"))
    officer.user.is_active = False
    officer.user.save(update_fields=["is_active"])
    return f"Bearer {officer.access}"


BAD_TOKENS: dict[str, Callable[[World], str | None]] = {
    "no token": lambda w: None,
    "empty bearer": lambda w: "Bearer ",
    "bearer without a token": lambda w: "Bearer",
    "another scheme": lambda w: f"Token {w.trader.access}",
    "basic credentials": lambda w: "Basic " + base64.b64encode(b"alice@example.com:x").decode(),
    "two tokens": lambda w: f"Bearer {w.trader.access} {w.trader.access}",
    "not a JWT": lambda w: "Bearer not.a.jwt",
    "very long garbage": lambda w: "Bearer " + "a" * 10_000,
    "expired": _expired,
    "refresh token used as access": lambda w: f"Bearer {w.trader.refresh}",
    "signature changed": _signature_changed,
    "payload changed to another user": _payload_changed,
    "alg none": _alg_none,
    "signed with another key": _other_key,
    "deleted user": _deleted_user,
    "deactivated user": _deactivated_user,
    "deactivated back-office officer": _deactivated_officer,
}


def _markers(world: World) -> list[str]:
    """Strings that only appear in the answer if someone's private data leaked."""
    markers = []
    for actor in (world.trader, world.other):
        markers += [actor.user.email, *(o.client_order_id for o in actor.orders if o.client_order_id)]
        markers += [w.address for w in actor.withdrawals]
        markers += list(Deposit.objects.filter(user=actor.user).values_list("txid", flat=True))
    return markers


@pytest.mark.parametrize("variant", list(BAD_TOKENS))
def test_every_private_operation_refuses_a_bad_token_and_leaks_nothing(world, variant):
    header = BAD_TOKENS[variant](world)
    markers = _markers(world)
    failures = []
    for method, path in private_operations():
        client = APIClient()
        if header is not None:
            client.credentials(HTTP_AUTHORIZATION=header)
        before = state()
        response = _call(client, method, _url(world, path))
        HAND_WRITTEN["bad-token requests to private operations"] += 1
        label = f"{method.upper()} {path}"
        try:
            error = assert_error_format(response, status=401)
            assert error["code"] == "not_authenticated", error
        except AssertionError as exc:
            failures.append(f"{label}: {str(exc)[:300]}")
            continue
        leaked = [m for m in markers if m in response.content.decode()]
        if leaked:
            failures.append(f"{label}: leaked {leaked}")
        if state() != before:
            failures.append(f"{label}: changed the database")
    assert not failures, f"{variant}:\n" + "\n".join(failures)


def test_the_good_token_is_accepted_by_every_private_operation(world):
    """The control: the same calls with the trader's real token get past authentication."""
    client = world.trader.client()
    for method, path in private_operations():
        response = _call(client, method, _url(world, path))
        expected_refusal = 403 if path.startswith(BACK_OFFICE_PREFIX) else None
        assert response.status_code != 401, (method, path, response.content)
        if expected_refusal:
            assert response.status_code == expected_refusal, (method, path, response.content)


# -- another user's objects ----------------------------------------------------------------------


def _address_of(user) -> int:
    """The id of a whitelisted withdrawal address of ``user`` (made on first use)."""
    address = WithdrawalAddress.objects.filter(user=user).first()
    if address is None:
        currency = Currency.objects.order_by("pk").first()
        address = WithdrawalAddress.objects.create(
            user=user, currency=currency, address="mallory-cold-wallet", label="cold", usable_from=timezone.now()
        )
    return address.pk


def _theirs(world: World, path: str) -> str:
    victim = world.other
    open_order = next(o for o in victim.orders if o.status in Order.OPEN_STATUSES)
    if "{key_id}" in path:
        path = path.replace("{key_id}", str(_key_of(victim.user)))
    if path.startswith("/api/v1/withdrawal-addresses/"):
        return path.replace("{id}", str(_address_of(victim.user)))
    return (
        path.replace("{order_id}", str(open_order.pk))
        .replace("{client_order_id}", open_order.client_order_id)
        .replace("{id}", str(victim.withdrawals[0].pk))
        .replace("{list_id}", str(_list_of(victim.user)))
    )


def test_another_users_objects_are_not_found_by_id_and_stay_untouched(world):
    by_id = [(m, p) for m, p in private_operations() if "{" in p and not p.startswith(BACK_OFFICE_PREFIX)]
    assert {p for _, p in by_id} == {
        "/api/v1/api-keys/{key_id}",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/by-client-id/{client_order_id}",
        "/api/v1/order-lists/{list_id}",
        "/api/v1/withdrawals/{id}/cancel",
        "/api/v1/withdrawal-addresses/{id}",
    }
    mallory = world.other
    _address_of(mallory.user)
    markers = [mallory.user.email, *(o.client_order_id for o in mallory.orders), mallory.withdrawals[0].address]
    client = world.trader.client()
    for method, path in by_id:
        before = state()
        response = _call(client, method, _theirs(world, path))
        HAND_WRITTEN["requests for another user's objects"] += 1
        error = assert_error_format(response, status=404)
        assert error["code"] == "not_found", (method, path, error)
        assert not [m for m in markers if m in response.content.decode()], (method, path, response.content)
        assert state() == before, (method, path)
    withdrawal = Withdrawal.objects.get(pk=mallory.withdrawals[0].pk)
    assert withdrawal.status == Withdrawal.Status.PENDING_REVIEW
    assert not Order.objects.filter(user=mallory.user, cancel_requested_at__isnull=False).exists()
    assert ApiKey.objects.get(user=mallory.user).enabled is True
    assert WithdrawalAddress.objects.filter(user=mallory.user).exists()


def test_cancel_all_cancels_only_my_orders(world):
    response = world.trader.client().delete(f"/api/v1/orders?market={world.market.symbol}")
    assert response.status_code == 202, response.content
    mine = Order.objects.filter(user=world.trader.user, status__in=Order.OPEN_STATUSES)
    assert response.json() == {"canceled": mine.count()}
    assert mine.count() > 0
    assert not mine.filter(cancel_requested_at__isnull=True).exists()
    assert not Order.objects.filter(user=world.other.user, cancel_requested_at__isnull=False).exists()


def _third_party_trade(world: World) -> None:
    """A fill between mallory and eve, which alice must never see."""
    from tests.factories import match_and_settle

    from .world import funded_trader, place

    eve = funded_trader(world.market, "eve")
    place(eve, world.market, "sell", "80", "0.1")
    match_and_settle(world.market)


LISTS = {
    "/api/v1/orders": lambda w: set(Order.objects.filter(user=w.trader.user).values_list("id", flat=True)),
    "/api/v1/ledger": lambda w: set(LedgerEntry.objects.filter(user=w.trader.user).values_list("id", flat=True)),
    "/api/v1/deposits": lambda w: set(Deposit.objects.filter(user=w.trader.user).values_list("id", flat=True)),
    "/api/v1/withdrawals": lambda w: set(Withdrawal.objects.filter(user=w.trader.user).values_list("id", flat=True)),
}


@pytest.mark.parametrize(
    "query",
    ["", "?user_id={other}", "?user={other_email}", "?user_id={other}&owner={other}&all=true&scope=all"],
    ids=["plain", "user_id", "user email", "several"],
)
def test_my_lists_hold_exactly_my_records_whatever_the_query_says(world, query):
    _third_party_trade(world)
    query = query.format(other=world.other.user.pk, other_email=world.other.user.email)
    client = world.trader.client()
    outsider_markers = [world.other.user.email, "mallory-", "eve@example.com", "eve-"]
    for path, mine in LISTS.items():
        response = client.get(path + query)
        HAND_WRITTEN["list requests checked for other users' records"] += 1
        assert response.status_code == 200, (path, response.content)
        assert {row["id"] for row in response.json()["results"]} == mine(world), path
        assert not [m for m in outsider_markers if m in response.content.decode()], (path, response.content)
    my_orders = set(Order.objects.filter(user=world.trader.user).values_list("id", flat=True))
    fills = client.get("/api/v1/trades" + query).json()["results"]
    assert fills
    assert {fill["order_id"] for fill in fills} <= my_orders
    for path in ("/api/v1/balances", "/api/v1/me", "/api/v1/pnl", "/api/v1/deposits/address?currency=BTC"):
        response = client.get(path + (query.replace("?", "&") if "?" in path else query))
        assert response.status_code == 200, (path, response.content)
        assert not [m for m in outsider_markers if m in response.content.decode()], (path, response.content)
    assert client.get("/api/v1/me" + query).json()["email"] == world.trader.user.email


# -- the back office -----------------------------------------------------------------------------


def _back_office_operations() -> list[tuple[str, str]]:
    return [(m, p) for m, p in private_operations() if p.startswith(BACK_OFFICE_PREFIX)]


def _officer_without_2fa(world: World):
    return login(make_staff(BACK_OFFICE, two_factor=False, email="officer-no-2fa@example.com"))


REFUSED_ACTORS: dict[str, Callable[[World], object]] = {
    "trader": lambda w: w.trader,
    "staff without a role": lambda w: w.plain_staff,
    "market operations": lambda w: w.market_ops,
    "back office without 2FA": _officer_without_2fa,
}


@pytest.mark.parametrize("who", list(REFUSED_ACTORS))
def test_the_back_office_refuses_everyone_but_back_office_staff(world, who):
    actor = REFUSED_ACTORS[who](world)
    client = actor.client()
    markers = [w.address for w in (*world.trader.withdrawals, *world.other.withdrawals)]
    for method, path in _back_office_operations():
        before = state()
        response = _call(client, method, _url(world, path))
        HAND_WRITTEN["back-office requests by the wrong people"] += 1
        error = assert_error_format(response, status=403)
        assert error["code"] == "permission_denied", (method, path, error)
        assert not [m for m in markers if m in response.content.decode()], (method, path, response.content)
        assert state() == before, (method, path)


# Compliance may freeze accounts (and ask for or approve an unfreeze), as back office may.
FREEZE_PATHS = {"/api/v1/backoffice/accounts/{id}/freeze", "/api/v1/backoffice/accounts/{id}/unfreeze"}
# The staff audit trail is read by compliance only.
COMPLIANCE_ONLY = {"/api/v1/backoffice/audit"}


def test_compliance_reads_the_back_office_and_freezes_but_decides_nothing_else(world):
    client = world.compliance.client()
    for method, path in _back_office_operations():
        before = state()
        response = _call(client, method, _url(world, path))
        if method == "get":
            assert response.status_code == 200, (path, response.content)
        elif path in FREEZE_PATHS:
            # Past the permission check; the empty body is refused and nothing changes.
            assert assert_error_format(response, status=400)["code"] == "validation_error", path
            assert state() == before, path
        else:
            assert assert_error_format(response, status=403)["code"] == "permission_denied", path
            assert state() == before, path


def test_back_office_staff_pass_the_checks(world):
    """The control: the officer's own calls get past authentication and authorization."""
    client = world.officer.client()
    for method, path in _back_office_operations():
        response = _call(client, method, _url(world, path))
        if path in COMPLIANCE_ONLY:
            assert assert_error_format(response, status=403)["code"] == "permission_denied", path
            continue
        assert response.status_code not in (401, 403), (method, path, response.content)
