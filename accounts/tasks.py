"""Celery tasks of accounts: sending mail, retried with backoff (safe to run twice: at worst a duplicate mail)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from .notices import notice_email_send

# Any failure of the backend (SMTP down, refused, timed out) is retried with exponential
# backoff and jitter, capped; after the last try the task fails and logs.
RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "retry_backoff_max": settings.NOTICE_RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": settings.NOTICE_MAX_RETRIES,
    "acks_late": False,
}


@shared_task(**RETRY)
def notice_send(user_id: int, kind: str, details: dict[str, str]) -> bool:
    """Email one ``NoticeDue`` to its user."""
    return notice_email_send(user_id=user_id, kind=kind, details=details)


@shared_task(**RETRY)
def password_reset_mail_send(email: str) -> bool:
    """Email a reset link if ``email`` is registered (the token is made here, never queued)."""
    from .passwords import password_reset_email_send

    return password_reset_email_send(email=email)
