"""JWT requests read the token's user through the cache, and a change of the user shows at once."""

from __future__ import annotations

import pytest

from accounts.authentication import user_cached

pytestmark = pytest.mark.django_db


def test_a_deactivated_user_is_refused_on_the_very_next_request(make_trader, auth_client):
    user = make_trader()
    client = auth_client(user)
    assert client.get("/api/v1/balances").status_code == 200
    assert client.get("/api/v1/balances").status_code == 200  # now from the cache

    user.is_active = False
    user.save(update_fields=["is_active"])

    response = client.get("/api/v1/balances")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_deleted_user_is_refused(make_trader, auth_client):
    user = make_trader()
    client = auth_client(user)
    assert client.get("/api/v1/balances").status_code == 200
    user.delete()
    assert client.get("/api/v1/balances").status_code == 401


def test_an_authenticated_read_costs_no_user_query(make_trader, auth_client, django_assert_max_num_queries):
    client = auth_client(make_trader())
    client.get("/api/v1/balances")
    with django_assert_max_num_queries(2):  # the wallets and the currencies, no user row
        assert client.get("/api/v1/balances").status_code == 200


def test_me_still_answers_with_the_full_user(make_trader, auth_client):
    user = make_trader(email="me-cache@example.com")
    client = auth_client(user)
    client.get("/api/v1/me")
    body = client.get("/api/v1/me").json()
    assert body["email"] == "me-cache@example.com"


def test_the_cached_user_keeps_the_password_hash_out_of_the_cache_but_can_still_check_it(make_trader):
    from django.core.cache import cache

    from tests.factories import PASSWORD

    user = make_trader()
    user_cached(user_id=user.pk)
    generation, values = cache.get(f"auth:user:{user.pk}")
    assert user.password not in values
    cached = user_cached(user_id=user.pk)
    assert cached.check_password(PASSWORD)


def test_an_entry_written_from_a_row_read_before_a_change_is_never_used(make_trader):
    from django.core.cache import cache

    user = make_trader()
    user_cached(user_id=user.pk)
    stale = cache.get(f"auth:user:{user.pk}")
    user.is_active = False
    user.save(update_fields=["is_active"])
    cache.set(f"auth:user:{user.pk}", stale)  # a slow request writing what it read before
    assert user_cached(user_id=user.pk).is_active is False
