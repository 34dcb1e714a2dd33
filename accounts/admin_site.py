"""The back-office admin site: OTP-verified staff, CSV export for compliance, the index.

- Staff must log in with password and a one-time password (django-otp's admin site);
  ``ADMIN_REQUIRE_OTP=0`` turns that off for local trials only. The setting is read on
  every request, so tests may flip it.
- Every list gets an "Export to CSV" action, offered only to users with
  ``wallets.export_csv`` (the compliance role).
- The index shows the panels the apps register (what waits for a decision, open ledger
  incidents, each market's 24-hour volume), so this module needs no app above accounts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from exchange_site.admin_base import DashboardPanel, export_as_csv
from exchange_site.admin_groups import group_apps
from exchange_site.throttles import auth_limits_refusal

from .audit_logins import admin_login_failed_record
from .otp import MAX_CODE_LENGTH, is_backup_shape, is_totp_shape, otp_normalize
from .roles import can_export_csv

# -- CSV export permission --------------------------------------------------------------


class ExportCsvMixin:
    """Gives every ModelAdmin of the site the ``export`` permission the CSV action needs."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return can_export_csv(request.user)


# -- login -------------------------------------------------------------------------


STAFF_LOGIN_ERROR = "Please enter the correct email, password and one-time password of a staff account."


class StaffOTPAuthenticationForm(OTPAdminAuthenticationForm):
    """Password and one-time password in one step.

    django-otp asks to pick a device once the password checked out; staff have one
    authenticator and one set of backup codes, so the code's shape says which device it
    is meant for (as at the API's login).
    """

    def clean_otp_token(self) -> str:
        return otp_normalize(self.cleaned_data.get("otp_token") or "")

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            if self.user_cache is not None:
                # The password checked out (a wrong one is recorded by ``user_login_failed``).
                admin_login_failed_record(request=self.request, email=self.user_cache.email, reason="otp_or_role")
            # django-otp answers a right password with a missing or wrong code differently
            # (its own message, the user's devices listed, the password echoed back), which
            # would confirm staff passwords to a guesser: every failure looks the same.
            self.user_cache = None  # the template offers the device list to a known user
            self.fields["otp_device"].widget.choices = []
            self.fields["password"].widget.render_value = False
            raise forms.ValidationError(STAFF_LOGIN_ERROR, code="invalid_login") from None

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is not None:
            return device
        token = self.cleaned_data.get("otp_token") or ""
        if not token or len(token) > MAX_CODE_LENGTH:
            return None
        for totp in TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk"):
            if is_totp_shape(token, digits=totp.digits):
                return totp
        if is_backup_shape(token):
            return StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        return None


# -- the site -----------------------------------------------------------------------


class ExchangeAdminSite(OTPAdminSite):
    site_header = "Exchange back office"
    site_title = "Exchange back office"
    index_title = "Back office"
    index_template = "admin/exchange/index.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.add_action(export_as_csv)
        self._dashboard_panels: list[DashboardPanel] = []

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # The API's login limits (per IP and per account, same buckets) guard this form too.
        if request.method == "POST":
            refusal = auth_limits_refusal(request)
            if refusal is not None:
                return refusal
        return super().login(request, extra_context)

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:  # type: ignore[override]
        return StaffOTPAuthenticationForm if settings.ADMIN_REQUIRE_OTP else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return "otp/admin111/login.html" if settings.ADMIN_REQUIRE_OTP else None

    def has_permission(self, request: HttpRequest) -> bool:
        if not AdminSite.has_permission(self, request):
            return False
        if not settings.ADMIN_REQUIRE_OTP:
            return True
        # Set by django-otp's middleware; a request that did not pass through it is not verified.
        is_verified = getattr(request.user, "is_verified", None)
        return bool(callable(is_verified) and is_verified())

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ExportCsvMixin):
            admin_class = type(
                admin_class.__name__, (ExportCsvMixin, admin_class), {"__module__": admin_class.__module__}
            )
        super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The index and the sidebar grouped by the work (exchange_site/admin_groups.py)."""
        app_list = super().get_app_list(request, app_label)
        return app_list if app_label else group_apps(app_list, request.user)

    def register_dashboard_panel(self, panel: DashboardPanel) -> None:
        """Show ``panel``'s part of the index page; apps call this from their admin module."""
        if panel not in self._dashboard_panels:
            self._dashboard_panels.append(panel)

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        context = dict(extra_context or {})
        for panel in self._dashboard_panels:
            context.update(panel(request, self.name))
        return super().index(request, context)
