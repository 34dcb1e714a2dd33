"""The admin app with the exchange's back-office site as the default ``admin.site``.

Kept apart from ``accounts.admin_site`` because this module is imported while the app registry
is still loading, before any model (django-otp's included) may be imported.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.apps import AdminConfig
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def admin_otp_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check --deploy`` warns when the admin accepts a password alone."""
    if settings.ADMIN_REQUIRE_OTP:
        return []
    return [
        checks.Warning(
            "ADMIN_REQUIRE_OTP is off: staff enter the admin with a password alone.",
            hint="Unset ADMIN_REQUIRE_OTP (or set it to 1) outside local trials.",
            id="exchange.W001",
        )
    ]


class ExchangeAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.ExchangeAdminSite"

    def ready(self) -> None:
        super().ready()
        from exchange_site import checks  # noqa: F401 - registers the deploy checks
