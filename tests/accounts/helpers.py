"""Helpers for the accounts tests: TOTP codes as an authenticator app computes them."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


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


def assert_error(response, status: int, code: str) -> dict:
    """The response is the API's error format with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]
