from __future__ import annotations

from django.conf import settings

from .models import User


def fee_account() -> User:
    """The exchange's own account that receives trading and withdrawal fees."""
    user, _ = User.objects.get_or_create(
        email=settings.FEE_ACCOUNT_EMAIL, defaults={"is_system": True, "is_active": False}
    )
    return user
