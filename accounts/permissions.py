"""API permission for back-office endpoints: an active staff member holding one permission, with 2FA on."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .selectors import two_factor_enabled


def staff_permission(perm: str, message: str) -> type[BasePermission]:
    """A DRF permission class for staff holding ``perm`` whose account has 2FA switched on.

    Staff endpoints move money or accounts: a password alone never reaches them.
    """

    class StaffWithTwoFactor(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            return bool(
                user.is_authenticated
                and user.is_active
                and user.is_staff
                and user.has_perm(perm)
                and two_factor_enabled(user=user)
            )

    StaffWithTwoFactor.message = message
    StaffWithTwoFactor.__doc__ = f"Active staff with ``{perm}`` and two-factor authentication."
    return StaffWithTwoFactor
