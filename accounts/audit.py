"""The staff audit trail: one call records who did what to which object, from where.

Every staff action (admin or back-office API) calls ``staff_action_record`` inside the
transaction that performs it, so the record and the action commit or roll back together.

Services do not take the request; ``AuditRequestMiddleware`` keeps the current one in a
context variable so a service called from the admin or the API still records the
caller's IP. Admin logins (success and failure) are recorded from Django's signals.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from .models import StaffAction

_current_request: ContextVar[Any | None] = ContextVar("staff_audit_request", default=None)


def request_ip(request: HttpRequest | Any | None) -> str | None:
    """The client's address as the throttles see it (``NUM_PROXIES`` decides how far X-Forwarded-For is trusted)."""
    if request is None:
        return None
    return BaseThrottle().get_ident(request) or None


def staff_action_record(
    *,
    actor: Any | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | Any | None = None,
    ip: str | None = None,
    actor_email: str = "",
) -> StaffAction:
    """Append one row; ``obj`` (a model instance) fills ``object_type``/``object_id``."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return StaffAction.objects.create(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_email=actor_email or getattr(actor, "email", "") or "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        ip=ip if ip is not None else request_ip(request if request is not None else _current_request.get()),
    )


class AuditRequestMiddleware:
    """Keep the request in a context variable for ``staff_action_record`` (the caller's IP)."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)
