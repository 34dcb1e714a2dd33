"""Helpers for the accounts tests: TOTP codes as an authenticator app computes them."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient


def totp_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code an authenticator app shows for ``device``, ``steps`` time steps from now.

    The app knows only the clock, not the drift django-otp learned from earlier codes.
    """
    if steps < 0:
        # An old code is accepted only until the next step starts: don't straddle it.
        left = device.step - (time.time() - device.t0) % device.step
        if left < 2:
            time.sleep(left + 0.05)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


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
