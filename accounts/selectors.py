from __future__ import annotations

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User


def fee_account() -> User:
    """The exchange's own account that receives trading and withdrawal fees."""
    user, _ = User.objects.get_or_create(
        email=settings.FEE_ACCOUNT_EMAIL, defaults={"is_system": True, "is_active": False}
    )
    return user


def two_factor_enabled(*, user: User) -> bool:
    """Whether the user confirmed a TOTP device (2FA is then required at login and for withdrawals)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
