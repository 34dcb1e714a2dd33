"""A login is a family of rotated refresh tokens: reuse revokes it, and it has an absolute lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import SessionFamily, SessionToken
from accounts.services import FAMILY_CLAIM
from tests.assertions import assert_error

from .helpers import refresh

pytestmark = pytest.mark.django_db


def test_every_token_of_a_login_carries_the_same_family(api, user, login):
    first = login(api, user.email).json()
    second = refresh(api, first["refresh"]).json()

    families = {RefreshToken(t["refresh"], verify=False)[FAMILY_CLAIM] for t in (first, second)}
    families |= {AccessToken(t["access"])[FAMILY_CLAIM] for t in (first, second)}
    assert len(families) == 1
    family = SessionFamily.objects.get()
    assert str(family.pk) in families
    assert family.user == user
    assert SessionToken.objects.filter(family=family).count() == 2


def test_two_logins_are_two_families(api, user, login):
    a = RefreshToken(login(api, user.email).json()["refresh"])[FAMILY_CLAIM]
    b = RefreshToken(login(api, user.email).json()["refresh"])[FAMILY_CLAIM]

    assert a != b


def test_a_rotated_away_token_presented_again_revokes_the_whole_family(api, user, login):
    stolen = login(api, user.email).json()["refresh"]
    current = refresh(api, stolen).json()["refresh"]
    current = refresh(api, current).json()["refresh"]

    error = assert_error(refresh(api, stolen), 401, "refresh_token_reused")

    assert "revoked" in error["message"]
    # The legitimate holder's newest token died with the family.
    assert_error(refresh(api, current), 401, "not_authenticated")
    family = SessionFamily.objects.get()
    assert family.revoked_reason == SessionFamily.Reason.REUSE
    assert family.revoked_at is not None
    family_tokens = SessionToken.objects.filter(family=family).values_list("token_id", flat=True)
    assert BlacklistedToken.objects.filter(token_id__in=family_tokens).count() == 3


def test_reuse_leaves_the_users_other_logins_alone(api, user, login):
    other = login(api, user.email).json()["refresh"]
    stolen = login(api, user.email).json()["refresh"]
    refresh(api, stolen)

    assert_error(refresh(api, stolen), 401, "refresh_token_reused")

    assert refresh(api, other).status_code == 200


def test_a_logged_out_token_is_refused_without_a_reuse_alarm(api, user, login):
    pair = login(api, user.email).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api.post("/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 205
    api.credentials()

    assert_error(refresh(api, pair["refresh"]), 401, "not_authenticated")
    assert SessionFamily.objects.get().revoked_reason == SessionFamily.Reason.LOGOUT


def test_a_family_is_not_refreshed_past_its_absolute_lifetime(api, user, login, settings):
    settings.SESSION_ABSOLUTE_LIFETIME_HOURS = 24
    token = login(api, user.email).json()["refresh"]
    token = refresh(api, token).json()["refresh"]
    SessionFamily.objects.update(started_at=timezone.now() - timedelta(hours=24, seconds=1))

    error = assert_error(refresh(api, token), 401, "session_expired")

    assert "expired_at" in error["details"]
    family = SessionFamily.objects.get()
    assert family.revoked_reason == SessionFamily.Reason.EXPIRED
    assert_error(refresh(api, token), 401, "not_authenticated")
    # A new login starts a new family with a new clock.
    assert refresh(api, login(api, user.email).json()["refresh"]).status_code == 200


def test_a_family_just_inside_its_lifetime_still_refreshes(api, user, login, settings):
    settings.SESSION_ABSOLUTE_LIFETIME_HOURS = 24
    token = login(api, user.email).json()["refresh"]
    SessionFamily.objects.update(started_at=timezone.now() - timedelta(hours=23, minutes=59))

    assert refresh(api, token).status_code == 200


def test_the_default_absolute_lifetime_is_a_week(settings):
    assert settings.SESSION_ABSOLUTE_LIFETIME_HOURS == 7 * 24


def test_a_token_issued_before_families_existed_starts_one_and_is_then_guarded(api, user):
    legacy = RefreshToken.for_user(user)
    assert FAMILY_CLAIM not in legacy.payload

    rotated = refresh(api, str(legacy))

    assert rotated.status_code == 200
    family = SessionFamily.objects.get()
    assert str(family.pk) == RefreshToken(rotated.json()["refresh"])[FAMILY_CLAIM]
    assert family.started_at == OutstandingToken.objects.get(jti=legacy["jti"]).created_at
    assert_error(refresh(api, str(legacy)), 401, "refresh_token_reused")
    assert_error(refresh(api, rotated.json()["refresh"]), 401, "not_authenticated")
