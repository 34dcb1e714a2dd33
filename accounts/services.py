"""Account use cases: registration, JWT sessions and TOTP two-factor authentication.

A login starts a session family: every refresh token rotated out of it carries the
family's id (claim ``fam``) and is recorded in ``SessionToken``. A rotated-away token
presented again means a copy leaked, so the whole family is revoked; a family is never
refreshed past ``SESSION_ABSOLUTE_LIFETIME_HOURS`` after its login.

A failed one-time password is recorded by django-otp (the device is then throttled with
growing delays). That record must survive the refusal, so the services below verify
codes in a transaction that commits before they raise.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from exchange_site.errors import Conflict, DomainError, InvalidInput
from exchange_site.events import NoticeDue, NoticeKind, announce_on_commit

from .audit import staff_action_record
from .models import SessionFamily, SessionToken, User
from .otp import BACKUP_CODE_COUNT, MAX_CODE_LENGTH, is_backup_shape, is_totp_shape, otp_normalize
from .selectors import two_factor_enabled

EMAIL_TAKEN = "This email address is already registered."
# The refresh (and access) token claim naming the session family of a login.
FAMILY_CLAIM = "fam"
Revoked = SessionFamily.Reason


class InvalidCredentials(DomainError):
    code = "not_authenticated"
    status_code = 401
    message = "Invalid email or password."


class OtpRequired(DomainError):
    code = "otp_required"
    status_code = 401
    message = "Two-factor authentication is on: send the one-time password as 'otp'."


class InvalidOtp(DomainError):
    code = "invalid_otp"
    status_code = 401
    message = "Invalid one-time password (after a failed attempt, wait a few seconds before retrying)."


class InvalidRefreshToken(DomainError):
    code = "not_authenticated"
    status_code = 401
    message = "The refresh token is invalid, expired or revoked."


class RefreshTokenReused(DomainError):
    code = "refresh_token_reused"
    status_code = 401
    message = (
        "This refresh token was already used: a copy may have leaked, so every token of this "
        "session is revoked. Log in again."
    )


class SessionExpired(DomainError):
    code = "session_expired"
    status_code = 401
    message = "The session reached its maximum lifetime. Log in again."


class InvalidPassword(DomainError):
    code = "invalid_password"
    status_code = 401
    message = "The password is wrong."


class TwoFactorNotEnabled(Conflict):
    code = "two_factor_not_enabled"
    message = "Two-factor authentication is off."


class TwoFactorAlreadyEnabled(Conflict):
    code = "two_factor_already_enabled"
    message = "Two-factor authentication is already on."


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True, slots=True)
class TwoFactorSetup:
    otpauth_url: str
    secret: str


def user_register(*, email: str, password: str) -> User:
    """Create a trader account; the email is stored in lower case and must be free."""
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        if len(email) > User._meta.get_field("email").max_length:
            raise DjangoValidationError("Ensure this field has no more than 254 characters.")
        validate_email(email)
    except DjangoValidationError as exc:
        errors["email"] = list(exc.messages)
    else:
        # The fee account is created lazily by email: a trader must never take its address.
        if email == settings.FEE_ACCOUNT_EMAIL.strip().lower() or User.objects.filter(email=email).exists():
            errors["email"] = [EMAIL_TAKEN]
    try:
        password_validation.validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise InvalidInput.fields(errors)
    try:
        with transaction.atomic(durable=True):
            return User.objects.create_user(email=email, password=password)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same address.
        raise InvalidInput.fields({"email": [EMAIL_TAKEN]}) from None


def otp_verify(*, user: User, otp: str) -> bool:
    """Accept a code of the user's confirmed authenticator or one of their backup codes (used up).

    Runs in its own transaction so that a failure is recorded for throttling even when the
    caller then refuses its request: call it before opening the caller's transaction.
    Always False while two-factor authentication is off.
    """
    code = otp_normalize(otp)
    if not code or len(code) > MAX_CODE_LENGTH:
        return False
    with transaction.atomic(durable=True):
        # Row locks make a code usable once even under concurrent requests (TOTP last_t,
        # static token deletion).
        totp_devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"))
        if not totp_devices:
            return False
        # A code is tried only on devices of its shape, so a mistyped TOTP code does not
        # throttle the backup codes.
        totp_fits = [d for d in totp_devices if is_totp_shape(code, digits=d.digits)]
        if totp_fits:
            return any(device.verify_token(code) for device in totp_fits)
        if is_backup_shape(code):
            static_devices = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk")
            return any(device.verify_token(code) for device in static_devices)
    return False


def token_obtain(*, email: str, password: str, otp: str | None = None) -> TokenPair:
    """Log in: check the password, then the one-time password when 2FA is on, and issue a JWT pair."""
    user = authenticate(None, email=email.strip().lower(), password=password)
    if user is None or user.is_system or not user.is_active:
        raise InvalidCredentials()
    if two_factor_enabled(user=user):
        if otp is None or not otp.strip():
            raise OtpRequired()
        if not otp_verify(user=user, otp=otp):
            raise InvalidOtp()
    with transaction.atomic(durable=True):
        pair = _session_start(user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)
    return pair


def _session_start(user: User, *, started_at: datetime | None = None) -> TokenPair:
    """Open a new session family for ``user`` and issue its first pair (call inside a transaction)."""
    family = SessionFamily.objects.create(user=user, started_at=started_at or timezone.now())
    return _session_issue(user, family)


def _session_issue(user: User, family: SessionFamily) -> TokenPair:
    """A new refresh token of ``family``, recorded as outstanding, and its access token."""
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(user.pk)
    refresh[FAMILY_CLAIM] = str(family.pk)
    outstanding = OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    SessionToken.objects.create(token=outstanding, family=family)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _blacklist(outstanding_ids: list[int]) -> None:
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in outstanding_ids], ignore_conflicts=True
    )


def _family_revoke(family: SessionFamily, *, reason: str) -> None:
    """Blacklist every refresh token of the family and mark it revoked (call inside a transaction)."""
    _blacklist(list(SessionToken.objects.filter(family=family).values_list("token_id", flat=True)))
    if family.revoked_at is None:
        family.revoked_at = timezone.now()
        family.revoked_reason = reason
        family.save(update_fields=["revoked_at", "revoked_reason"])


def sessions_revoke_all(*, user: User, reason: str) -> None:
    """End every session of ``user``: all refresh tokens blacklisted, all families revoked.

    Access tokens already issued stay valid until they expire (at most 15 minutes). Call
    inside the caller's transaction.
    """
    _blacklist(list(OutstandingToken.objects.filter(user=user).values_list("pk", flat=True)))
    SessionFamily.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def sessions_revoke_others(*, user: User, keep_family_id: str | None, reason: str) -> None:
    """End every session of ``user`` but the family ``keep_family_id`` (the caller's own).

    Call inside the caller's transaction. Without a family to keep, every session ends.
    """
    families = SessionFamily.objects.filter(user=user)
    kept_tokens = SessionToken.objects.none()
    if keep_family_id:
        families = families.exclude(pk=keep_family_id)
        kept_tokens = SessionToken.objects.filter(family_id=keep_family_id, family__user=user)
    outstanding = OutstandingToken.objects.filter(user=user).exclude(pk__in=kept_tokens.values("token_id"))
    _blacklist(list(outstanding.values_list("pk", flat=True)))
    families.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_reason=reason)


def _session_deadline(family: SessionFamily) -> datetime:
    return family.started_at + timedelta(hours=settings.SESSION_ABSOLUTE_LIFETIME_HOURS)


class _SignedRefreshToken(RefreshToken):
    """A refresh token checked for signature, expiry and type only.

    The services look the blacklist up themselves, under a row lock, to tell a
    rotated-away token presented again (reuse) from one that was revoked.
    """

    def check_blacklist(self) -> None:
        return None


def _refresh_token_parse(raw: str) -> RefreshToken | None:
    try:
        return _SignedRefreshToken(raw)
    except TokenError:
        return None


def _outstanding_row(token: RefreshToken) -> OutstandingToken | None:
    """Lock the issued-token row of a refresh token of a known user, or None."""
    # order_by("pk"): the model's default ordering joins the nullable user, which
    # PostgreSQL refuses to lock.
    jti = token[jwt_settings.JTI_CLAIM]
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).order_by("pk").first()
    if outstanding is None or outstanding.user_id is None:
        return None
    if str(outstanding.user_id) != str(token.get(jwt_settings.USER_ID_CLAIM)):
        return None
    return outstanding


def _outstanding_lock(token: RefreshToken) -> OutstandingToken | None:
    """Lock the issued-token row of a live (not blacklisted) refresh token, or None."""
    outstanding = _outstanding_row(token)
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        return None
    return outstanding


def token_refresh(*, refresh: str) -> TokenPair:
    """Trade a refresh token for a new pair of the same session family; the old one is blacklisted.

    A token that was already rotated away revokes its whole family (``RefreshTokenReused``);
    a family older than the absolute session lifetime is closed (``SessionExpired``). Both
    revocations are committed before the refusal is raised.
    """
    token = _refresh_token_parse(refresh)
    if token is None:
        raise InvalidRefreshToken()
    refusal: DomainError | None = None
    with transaction.atomic(durable=True):
        outstanding = _outstanding_row(token)
        if outstanding is None:
            raise InvalidRefreshToken()
        link = SessionToken.objects.filter(token=outstanding).only("family_id").first()
        family = (
            SessionFamily.objects.select_for_update().filter(pk=link.family_id).first() if link is not None else None
        )
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            if family is None or family.revoked_at is not None:
                raise InvalidRefreshToken()
            _family_revoke(family, reason=Revoked.REUSE)
            refusal = RefreshTokenReused()
        else:
            user = User.objects.filter(pk=outstanding.user_id, is_active=True, is_system=False).first()
            if user is None or (family is not None and family.revoked_at is not None):
                raise InvalidRefreshToken()
            if family is None:
                # Issued before session families existed: its own issue time starts the family.
                family = SessionFamily.objects.create(user=user, started_at=outstanding.created_at or timezone.now())
                SessionToken.objects.create(token=outstanding, family=family)
            if timezone.now() >= _session_deadline(family):
                _family_revoke(family, reason=Revoked.EXPIRED)
                refusal = SessionExpired(details={"expired_at": _session_deadline(family).isoformat()})
            else:
                BlacklistedToken.objects.create(token=outstanding)
                pair = _session_issue(user, family)
    if refusal is not None:
        raise refusal
    return pair


def token_revoke(*, user: User, refresh: str) -> None:
    """Log out: blacklist one of the user's refresh tokens (access tokens expire on their own)."""
    token = _refresh_token_parse(refresh)
    with transaction.atomic(durable=True):
        outstanding = _outstanding_lock(token) if token is not None else None
        if outstanding is None or outstanding.user_id != user.pk:
            raise InvalidInput.fields({"refresh": ["Invalid, expired or already revoked refresh token."]})
        BlacklistedToken.objects.create(token=outstanding)
        family = SessionFamily.objects.filter(tokens__token=outstanding).first()
        if family is not None:
            _family_revoke(family, reason=Revoked.LOGOUT)


def password_verify(*, user: User, password: str) -> None:
    """Re-authenticate a logged-in user before a security change: an access token alone is not enough."""
    if not password or not user.check_password(password):
        raise InvalidPassword()


def token_issue(*, user: User) -> TokenPair:
    """Start a new session family for a user who just proved who they are (e.g. after enabling 2FA)."""
    with transaction.atomic(durable=True):
        return _session_start(user)


def _user_lock(user: User) -> None:
    # Serialises setup and confirm of one user, so two devices never both get confirmed.
    User.objects.select_for_update().filter(pk=user.pk).first()


def two_factor_setup(*, user: User) -> TwoFactorSetup:
    """Start enabling 2FA: a new unconfirmed TOTP device replaces any earlier unconfirmed one."""
    with transaction.atomic(durable=True):
        _user_lock(user)
        if two_factor_enabled(user=user):
            raise TwoFactorAlreadyEnabled()
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return TwoFactorSetup(otpauth_url=device.config_url, secret=b32encode(device.bin_key).decode("ascii"))


def staff_two_factor_record(*, user: User, action: str) -> None:
    """A staff member's own 2FA change is a staff action (the audit trail); a trader's is not."""
    if user.is_staff:
        staff_action_record(actor=user, action=action, obj=user, after={"two_factor_enabled": "enrol" in action})


def two_factor_confirm(*, user: User, otp: str) -> list[str]:
    """Turn 2FA on once the pending device's code checks out; return fresh single-use backup codes.

    Every session of the user is revoked in the same transaction: a refresh token stolen
    before 2FA was on must not outlive it (the API hands the caller a new pair).
    """
    code = otp_normalize(otp)
    backup_codes: list[str] = []
    with transaction.atomic(durable=True):
        _user_lock(user)
        if two_factor_enabled(user=user):
            raise TwoFactorAlreadyEnabled()
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            raise InvalidInput("Start two-factor setup first (POST /api/v1/auth/2fa/setup).")
        # A failed attempt is saved by verify_token and committed (throttling); raise only afterwards.
        if is_totp_shape(code, digits=device.digits) and device.verify_token(code):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            StaticDevice.objects.filter(user=user).delete()
            static = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
            while len(backup_codes) < BACKUP_CODE_COUNT:
                candidate = StaticToken.random_token()
                if candidate not in backup_codes:
                    backup_codes.append(candidate)
            StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in backup_codes)
            sessions_revoke_all(user=user, reason=Revoked.TWO_FACTOR_ENABLED)
            two_factor_notice(user=user, change="enabled")
            staff_two_factor_record(user=user, action="staff.two_factor_enrol")
    if not backup_codes:
        raise InvalidOtp()
    return backup_codes


def two_factor_notice(*, user: User, change: str) -> None:
    """Email the user that their 2FA changed, once the surrounding transaction commits."""
    announce_on_commit(NoticeDue(user_id=user.pk, kind=NoticeKind.TWO_FACTOR_CHANGED, details={"change": change}))


def two_factor_devices_remove(*, user: User) -> None:
    """Delete the user's authenticator and backup codes (call inside the caller's transaction)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_factor_disable(*, user: User, otp: str) -> None:
    """Turn 2FA off with a current code (authenticator or backup); the caller checked the password."""
    if not two_factor_enabled(user=user):
        raise TwoFactorNotEnabled()
    # Verified (and recorded for throttling) in its own transaction, before ours.
    if not otp_verify(user=user, otp=otp):
        raise InvalidOtp()
    with transaction.atomic(durable=True):
        _user_lock(user)
        two_factor_devices_remove(user=user)
        two_factor_notice(user=user, change="disabled")
        staff_two_factor_record(user=user, action="staff.two_factor_disable")
