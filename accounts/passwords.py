"""Password change and reset by email.

Change: the current password, a new one that passes Django's validators; every other
session of the user ends (the caller's own family stays), the user is told by email.

Reset: asking always answers the same, whether the address is registered or not, and
does the same work either way (the lookup and the mail happen in a Celery task), so
neither the answer nor its timing tells an attacker which addresses exist. The emailed
token is Django's ``PasswordResetTokenGenerator`` token, prefixed with the user id: it
hashes the password and the last login, so it stops working once used, and it expires
after ``PASSWORD_RESET_TIMEOUT`` seconds. A confirmed reset ends every session.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from exchange_site.errors import DomainError, InvalidInput
from exchange_site.events import NoticeDue, NoticeKind, announce_on_commit

from .models import SessionFamily, User
from .notices import mail_send
from .services import password_verify, sessions_revoke_all, sessions_revoke_others

logger = logging.getLogger(__name__)
MAX_EMAIL_LENGTH = 254
TOKEN_SEPARATOR = "."


class InvalidResetToken(DomainError):
    code = "invalid_reset_token"
    message = "The reset link is invalid, expired or already used. Ask for a new one."


def _validated_new_password(user: User, new_password: str) -> None:
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput.fields({"new_password": list(exc.messages)}) from None


def _family_id(raw: object) -> str | None:
    """The session family named by a token claim, if it is one (else no family is kept)."""
    try:
        return str(uuid.UUID(str(raw)))
    except (TypeError, ValueError):
        return None


def _password_set(user: User, new_password: str, *, change: str) -> None:
    user.set_password(new_password)
    user.save(update_fields=["password"])
    announce_on_commit(NoticeDue(user_id=user.pk, kind=NoticeKind.PASSWORD_CHANGED, details={"change": change}))


def password_change(*, user: User, current_password: str, new_password: str, keep_family: object = None) -> None:
    """Replace the password; every session but ``keep_family`` (the caller's) ends."""
    password_verify(user=user, password=current_password)
    _validated_new_password(user, new_password)
    with transaction.atomic(durable=True):
        locked = User.objects.select_for_update().get(pk=user.pk)
        _password_set(locked, new_password, change="from your account settings")
        sessions_revoke_others(
            user=locked, keep_family_id=_family_id(keep_family), reason=SessionFamily.Reason.PASSWORD_CHANGED
        )


def password_reset_request(*, email: str) -> None:
    """Queue the reset mail for ``email``; the same work whether it is registered or not."""
    from .tasks import password_reset_mail_send

    normalized = email.strip().lower()
    if not normalized or len(normalized) > MAX_EMAIL_LENGTH:
        return

    def queue() -> None:
        try:
            password_reset_mail_send.delay(normalized)
        except Exception:  # the answer must not depend on the broker (or, eager, on SMTP)
            logger.exception("queueing a password reset mail failed")

    transaction.on_commit(queue)


def password_reset_token_make(*, user: User, generator: PasswordResetTokenGenerator = default_token_generator) -> str:
    """The token of a reset link: the user id and Django's single-use, expiring token."""
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}{TOKEN_SEPARATOR}{generator.make_token(user)}"


def password_reset_email_send(*, email: str) -> bool:
    """Send the reset link if ``email`` belongs to an active trader; False (no mail) otherwise."""
    user = User.objects.filter(email=email, is_active=True, is_system=False).first()
    if user is None or not user.has_usable_password():
        return False
    token = password_reset_token_make(user=user)
    body = render_to_string(
        "accounts/notices/password_reset.txt",
        {
            "email": user.email,
            "link": f"{settings.PASSWORD_RESET_URL}?token={token}",
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
    )
    mail_send(to=user.email, subject="Reset your password", body=body)
    return True


def _token_user(token: str) -> tuple[User, str]:
    uid, _, key = token.partition(TOKEN_SEPARATOR)
    try:
        user_id = int(urlsafe_base64_decode(uid).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidResetToken() from None
    if not key or not 0 < user_id < 2**63:
        raise InvalidResetToken()
    user = User.objects.filter(pk=user_id, is_active=True, is_system=False).first()
    if user is None or not default_token_generator.check_token(user, key):
        raise InvalidResetToken()
    return user, key


def password_reset_confirm(*, token: str, new_password: str) -> None:
    """Set a new password with an emailed token; the token is then spent and every session ends."""
    user, key = _token_user(token)
    _validated_new_password(user, new_password)
    with transaction.atomic(durable=True):
        # Checked again on the locked row: of two concurrent uses, the second sees the new hash.
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not default_token_generator.check_token(locked, key):
            raise InvalidResetToken()
        _password_set(locked, new_password, change="with a reset link")
        sessions_revoke_all(user=locked, reason=SessionFamily.Reason.PASSWORD_RESET)
