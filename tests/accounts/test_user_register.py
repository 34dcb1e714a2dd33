from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import authenticate

from accounts.models import User
from tests.assertions import assert_error

URL = "/api/v1/auth/register"
GOOD_PASSWORD = "plum-sofa-orbit-73"

pytestmark = pytest.mark.django_db


def register(api, email, password=GOOD_PASSWORD):
    return api.post(URL, {"email": email, "password": password}, format="json")


def test_register_creates_an_account_and_answers_id_and_email(api):
    response = register(api, "alice@example.com")

    assert response.status_code == 201
    user = User.objects.get(email="alice@example.com")
    assert response.json() == {"id": user.pk, "email": "alice@example.com"}
    assert user.check_password(GOOD_PASSWORD)
    assert user.password != GOOD_PASSWORD
    assert (user.is_active, user.is_staff, user.is_superuser, user.is_system) == (True, False, False, False)


def test_register_stores_the_email_in_lower_case(api):
    response = register(api, "  Alice.Smith@Example.COM ")

    assert response.status_code == 201
    assert response.json()["email"] == "alice.smith@example.com"
    assert authenticate(None, email="alice.smith@example.com", password=GOOD_PASSWORD) is not None


def test_register_refuses_an_email_already_registered_in_any_case(api):
    assert register(api, "bob@example.com").status_code == 201

    error = assert_error(register(api, "BOB@example.com", "another-good-pass-91"), 400, "validation_error")

    assert "already registered" in error["message"]
    assert error["details"]["fields"]["email"] == ["This email address is already registered."]
    assert User.objects.filter(email__iexact="bob@example.com").count() == 1


def test_register_refuses_the_fee_account_address_even_before_that_account_exists(api):
    assert not User.objects.filter(email=settings.FEE_ACCOUNT_EMAIL).exists()

    assert_error(register(api, settings.FEE_ACCOUNT_EMAIL.upper()), 400, "validation_error")

    assert not User.objects.filter(email__iexact=settings.FEE_ACCOUNT_EMAIL).exists()


@pytest.mark.parametrize(
    ("password", "expected_fragment"),
    [
        ("Sh0rt!", "too short"),
        ("password1234", "too common"),
        ("80234719235234", "entirely numeric"),
        ("carol.example", "too similar"),
    ],
)
def test_register_applies_the_password_validators(api, password, expected_fragment):
    error = assert_error(register(api, "carol.example@example.com", password), 400, "validation_error")

    messages = error["details"]["fields"]["password"]
    assert any(expected_fragment in m for m in messages), messages
    assert not User.objects.exists()


def test_register_reports_email_and_password_problems_together(api):
    assert register(api, "dave@example.com").status_code == 201

    error = assert_error(register(api, "dave@example.com", "123"), 400, "validation_error")

    assert set(error["details"]["fields"]) == {"email", "password"}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "@example.com", "x" * 250 + "@example.com", ""])
def test_register_refuses_an_invalid_email(api, email):
    error = assert_error(register(api, email), 400, "validation_error")

    assert "email" in error["details"]["fields"]
    assert not User.objects.exists()


def test_register_needs_no_token_and_ignores_a_bad_one(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert register(api, "erin@example.com").status_code == 201
