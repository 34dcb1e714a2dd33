from __future__ import annotations

import pytest

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client, settings):
    settings.ADMIN_REQUIRE_OTP = False
    return admin_client


def test_user_admin_lists_and_searches_by_email(staff):
    UserFactory(email="findme@example.com")
    UserFactory(email="other@example.com")

    response = staff.get("/admin/accounts/user/", {"q": "findme"})

    assert response.status_code == 200
    assert b"findme@example.com" in response.content
    assert b"other@example.com" not in response.content


def test_user_admin_add_form_creates_a_user_with_a_lower_case_email(staff):
    response = staff.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@Example.com",
            "usable_password": "true",
            "password1": "plum-sofa-orbit-73",
            "password2": "plum-sofa-orbit-73",
        },
    )

    assert response.status_code == 302, response.content
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password("plum-sofa-orbit-73")


def test_user_admin_add_form_refuses_an_email_registered_in_another_case(staff):
    UserFactory(email="taken@example.com")

    response = staff.post(
        "/admin/accounts/user/add/",
        {
            "email": "TAKEN@example.com",
            "usable_password": "true",
            "password1": "plum-sofa-orbit-73",
            "password2": "plum-sofa-orbit-73",
        },
    )

    assert response.status_code == 200
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_user_admin_change_page_renders(staff):
    user = UserFactory()

    response = staff.get(f"/admin/accounts/user/{user.pk}/change/")

    assert response.status_code == 200
    assert user.email.encode() in response.content
