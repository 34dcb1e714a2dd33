"""Staff 2FA enrolment with a QR code, before the admin's login (which needs a one-time password).

A staff member without an authenticator cannot log in to the admin, so this page checks
the password itself, under the login limits of the admin's login form (same buckets),
and answers every wrong email, wrong password or non-staff account the same way. Then it
shows the QR code and the secret, and turns 2FA on with the first code, through the same
account services as the API (``two_factor_setup``, ``two_factor_confirm``). Between the
two steps the account is carried in a signed, 10-minute token, not in a session.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from django.contrib import admin
from django.contrib.auth import authenticate
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.otp import qr_svg
from accounts.selectors import two_factor_enabled
from accounts.services import two_factor_confirm, two_factor_setup
from exchange_site.errors import DomainError
from exchange_site.throttles import auth_limits_refusal

logger = logging.getLogger(__name__)

SALT = "backoffice.two-factor-enrol"
TOKEN_SECONDS = 600
REFUSED = "Please enter the correct email and password of a staff account."
MAX_FIELD = 256


def _page(request: HttpRequest, step: str, **extra: Any) -> TemplateResponse:
    context = {**admin.site.each_context(request), "title": "Two-factor enrolment", "step": step, **extra}
    context["login_url"] = reverse("admin:login")
    return TemplateResponse(request, "backoffice/two_factor.html", context)


def _qr_step(request: HttpRequest, user: User, error: str = "") -> TemplateResponse:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        return _page(request, "password", error="Start again: the setup was not found.")
    return _page(
        request,
        "code",
        error=error,
        email=user.email,
        qr=qr_svg(device.config_url),
        secret=base64.b32encode(device.bin_key).decode("ascii"),
        token=signing.dumps({"u": user.pk, "d": device.pk}, salt=SALT),
    )


def _password_step(request: HttpRequest) -> TemplateResponse | HttpResponse:
    refusal = auth_limits_refusal(request)
    if refusal is not None:
        return refusal
    email = request.POST.get("username", "")[:MAX_FIELD].strip().lower()
    password = request.POST.get("password", "")[:MAX_FIELD]
    user = authenticate(request, email=email, password=password) if email and password else None
    if user is None or not user.is_staff or not user.is_active or user.is_system:
        return _page(request, "password", error=REFUSED, email=email)
    if two_factor_enabled(user=user):
        return _page(request, "enabled", email=user.email)
    two_factor_setup(user=user)
    return _qr_step(request, user)


def _code_step(request: HttpRequest) -> TemplateResponse:
    try:
        data = signing.loads(request.POST.get("token", "")[:1024], salt=SALT, max_age=TOKEN_SECONDS)
        user = User.objects.get(pk=int(data["u"]), is_staff=True, is_active=True)
    except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError, ValueError):
        return _page(request, "password", error="This enrolment expired: start again.")
    if two_factor_enabled(user=user):
        return _page(request, "enabled", email=user.email)
    try:
        backup_codes = two_factor_confirm(user=user, otp=request.POST.get("otp", "")[:MAX_FIELD])
    except DomainError:
        return _qr_step(request, user, error="That code did not match: type the code your authenticator shows now.")
    logger.info("staff %s enrolled an authenticator for 2FA", user.pk)
    return _page(request, "done", email=user.email, backup_codes=backup_codes)


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, "password")
    if request.POST.get("step") == "code":
        return _code_step(request)
    return _password_step(request)
