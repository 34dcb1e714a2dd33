"""Admin logins in the staff audit trail: every success of a staff member, every failure.

Django sends ``user_logged_in`` and ``user_login_failed`` for every login that goes
through ``authenticate``/``login``; only the ones made on the admin's pages (the login
form and the staff 2FA enrolment page, both under the admin's URL) are staff actions.
The API's token endpoint has its own limits and is not recorded here. A right password
with a wrong one-time password never reaches ``user_login_failed``: the admin's login
form records that failure itself (``admin_login_failed_record``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from .audit import staff_action_record

LOGIN = "admin.login"
LOGIN_FAILED = "admin.login_failed"
MAX_EMAIL = 254


def _on_admin_pages(request: HttpRequest | None) -> bool:
    if request is None:
        return False
    try:
        prefix = reverse("admin:index")
    except NoReverseMatch:  # no admin mounted
        return False
    return str(getattr(request, "path", "")).startswith(prefix)


def admin_login_failed_record(*, request: HttpRequest | None, email: str, reason: str) -> None:
    """One failed attempt at the admin's door (wrong password, wrong code, not staff)."""
    staff_action_record(
        actor=None,
        actor_email=(email or "").strip().lower()[:MAX_EMAIL] or "(none)",
        action=LOGIN_FAILED,
        after={"reason": reason, "path": str(getattr(request, "path", ""))[:200]},
        request=request,
    )


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None and user.is_staff and _on_admin_pages(request):
        staff_action_record(actor=user, action=LOGIN, obj=user, request=request)


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    if _on_admin_pages(request):
        email = str(credentials.get("email") or credentials.get("username") or "")
        admin_login_failed_record(request=request, email=email, reason="password")


user_logged_in.connect(_logged_in, dispatch_uid="accounts-audit-admin-login")
user_login_failed.connect(_login_failed, dispatch_uid="accounts-audit-admin-login-failed")
