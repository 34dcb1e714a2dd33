"""Trader emails: the reader of ``NoticeDue`` and the mail it sends.

Writers announce ``NoticeDue`` after commit (``exchange_site.events``); the reader here
only queues ``accounts.tasks.notice_send`` with the ids, so the announcing request never
waits on SMTP and a mail server that is down never fails it. The task renders one text
template per ``NoticeKind`` (``accounts/templates/accounts/notices/<kind>.txt``) and
sends it through Django's email framework; failures are retried with backoff.

A notice carries no secret: templates are given only the event's ``details`` (amounts,
currency, status, addresses), never a one-time password or a token.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from exchange_site.events import NoticeDue, NoticeKind

from .models import User

logger = logging.getLogger(__name__)

SUBJECTS: dict[NoticeKind, str] = {
    NoticeKind.WITHDRAWAL_REQUESTED: "Withdrawal requested",
    NoticeKind.WITHDRAWAL_APPROVED: "Withdrawal approved",
    NoticeKind.WITHDRAWAL_SENT: "Withdrawal sent",
    NoticeKind.WITHDRAWAL_REJECTED: "Withdrawal rejected",
    NoticeKind.WHITELIST_ADDRESS_ADDED: "New withdrawal address added",
    NoticeKind.TWO_FACTOR_CHANGED: "Two-factor authentication changed",
    NoticeKind.ACCOUNT_FROZEN: "Your account was frozen",
    NoticeKind.PASSWORD_CHANGED: "Your password was changed",
}
# Details a template may show; anything else a writer passes is dropped, never mailed.
ALLOWED_DETAILS = frozenset(
    {"withdrawal_id", "amount", "fee", "currency", "address", "label", "status", "reason", "txid", "change", "scope"}
)
MAX_DETAIL_LENGTH = 500


def notice_queue(event: NoticeDue) -> None:
    """Queue the email of a committed notice (the ``NoticeDue`` subscriber)."""
    from .tasks import notice_send

    try:
        notice_send.delay(event.user_id, str(event.kind), dict(event.details))
    except Exception:  # a broker outage must not reach the request that announced it
        logger.exception("queueing notice %s for user %s failed", event.kind, event.user_id)


def notice_render(*, kind: NoticeKind, user: User, details: dict[str, str]) -> tuple[str, str]:
    """The subject and text body of a notice."""
    safe = {k: str(v)[:MAX_DETAIL_LENGTH] for k, v in details.items() if k in ALLOWED_DETAILS}
    body = render_to_string(f"accounts/notices/{kind.value}.txt", {"email": user.email, **safe})
    return f"[{settings.OTP_TOTP_ISSUER}] {SUBJECTS[kind]}", body


def notice_email_send(*, user_id: int, kind: str, details: dict[str, str]) -> bool:
    """Send one notice now; False when there is nobody to send it to (gone, system, inactive).

    Raises whatever the email backend raises, so the task retries.
    """
    try:
        notice_kind = NoticeKind(kind)
    except ValueError:
        logger.error("unknown notice kind %r for user %s: dropped", kind, user_id)
        return False
    user = User.objects.filter(pk=user_id, is_active=True, is_system=False).first()
    if user is None or not user.email:
        return False
    subject, body = notice_render(kind=notice_kind, user=user, details=details)
    EmailMessage(subject=subject, body=body, to=[user.email]).send(fail_silently=False)
    return True


def mail_send(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail (the password-reset link); raises on failure so the task retries."""
    EmailMessage(subject=f"[{settings.OTP_TOTP_ISSUER}] {subject}", body=body, to=[to]).send(fail_silently=False)
