"""One-time passwords as the user's authenticator app computes them, and 2FA switched on through the services."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import two_factor_confirm, two_factor_setup


def totp_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code an authenticator app shows for ``device``, ``steps`` time steps from now.

    The app knows only the clock, not the drift django-otp learned from earlier codes.
    """
    if steps < 0:
        # An old code is accepted only until the next step starts. Waiting out the end of
        # the step is the point here (the code's age is what the caller tests), not a wait
        # for a condition.
        left = device.step - (time.time() - device.t0) % device.step
        if left < 2:
            time.sleep(left + 0.05)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def enable_2fa(user) -> list[str]:
    """Switch 2FA on through the services; return the backup codes.

    The confirming code is one step old, so the current and the next step's codes are
    still unused (django-otp refuses a code of a step already used).
    """
    two_factor_setup(user=user)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    return two_factor_confirm(user=user, otp=totp_code(device, steps=-1))


def fresh_otp(user) -> str:
    """A code the user's authenticator shows now, usable even if one of this step was used.

    django-otp accepts a time step once; the tests take more than one per 30 s, so they
    forget the last used step (and any throttling) instead of sleeping.
    """
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    device.last_t = -1
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save(update_fields=["last_t", "throttling_failure_count", "throttling_failure_timestamp"])
    return totp_code(device)
