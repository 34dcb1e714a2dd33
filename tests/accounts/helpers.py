"""Helpers for the accounts tests: the user's TOTP device, throttling, a logged-in client."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.otp import totp_code

__all__ = ["allow_next_attempt", "logged_in", "refresh", "totp_code", "totp_device"]


def totp_device(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user)


def allow_next_attempt(device: TOTPDevice) -> None:
    """Clear django-otp's back-off after a failure instead of sleeping through it."""
    device.refresh_from_db()
    device.throttling_failure_timestamp = None
    device.throttling_failure_count = 0
    device.save(update_fields=["throttling_failure_timestamp", "throttling_failure_count"])


def logged_in(login, user) -> tuple[APIClient, dict]:
    """An API client holding the user's access token, and the token pair (``login`` is the fixture)."""
    client = APIClient()
    pair = login(client, user.email).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client, pair


def refresh(api, token: str):
    """POST a refresh token to the refresh endpoint and return the response."""
    return api.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")
