"""Shapes of the accounts API; the rules live in ``accounts.services``."""

from __future__ import annotations

from rest_framework import serializers

from exchange_site.fields import StrictCharField, StrictEmailField

from .otp import MAX_CODE_LENGTH

# Generous bounds that still keep hashing and lookups cheap for absurd input.
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_LENGTH = 4096
# Room for a code typed with spaces or dashes ("123 456").
MAX_OTP_INPUT_LENGTH = 4 * MAX_CODE_LENGTH


class RegisterIn(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class TokenObtainIn(serializers.Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)
    otp = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_OTP_INPUT_LENGTH,
        help_text="Authenticator code or a backup code; required when two-factor authentication is on.",
    )


class TokenPairOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshIn(serializers.Serializer):
    refresh = StrictCharField(max_length=MAX_TOKEN_LENGTH)


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    two_factor_enabled = serializers.BooleanField()
    tier = serializers.IntegerField(help_text="Verification tier; decides the withdrawal limits.")
    trading_frozen = serializers.BooleanField(help_text="No new orders while true (set by compliance).")
    withdrawals_frozen = serializers.BooleanField(help_text="No withdrawals while true (set by compliance).")


class TwoFactorSetupOut(serializers.Serializer):
    otpauth_url = serializers.CharField(help_text="Key URI for authenticator apps (also encoded in qr_svg).")
    secret = serializers.CharField(help_text="Base32 secret, for typing into an authenticator app.")
    qr_svg = serializers.CharField(help_text="SVG markup of a QR code of otpauth_url.")


def _password_field() -> StrictCharField:
    return StrictCharField(
        max_length=MAX_PASSWORD_LENGTH,
        trim_whitespace=False,
        help_text="The account's password: a security change needs more than an access token.",
    )


class OtpIn(serializers.Serializer):
    otp = StrictCharField(max_length=MAX_OTP_INPUT_LENGTH)


class PasswordIn(serializers.Serializer):
    password = _password_field()


class PasswordOtpIn(serializers.Serializer):
    password = _password_field()
    otp = StrictCharField(
        max_length=MAX_OTP_INPUT_LENGTH, help_text="Authenticator code, or one of the backup codes (used up)."
    )


class TwoFactorConfirmOut(serializers.Serializer):
    two_factor_enabled = serializers.BooleanField()
    backup_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Single-use recovery codes; shown only this once."
    )
    access = serializers.CharField(help_text="A new access token: every earlier session of the account was revoked.")
    refresh = serializers.CharField(help_text="The refresh token of the new session.")


class TwoFactorDisableOut(serializers.Serializer):
    two_factor_enabled = serializers.BooleanField()


class PasswordChangeIn(serializers.Serializer):
    current_password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)
    new_password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)


class PasswordResetIn(serializers.Serializer):
    # Not an email field: a malformed address answers like any other (no hint either way).
    email = StrictCharField(max_length=254)


class PasswordResetConfirmIn(serializers.Serializer):
    token = StrictCharField(max_length=MAX_TOKEN_LENGTH, help_text="The token of the emailed reset link.")
    new_password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)


class PasswordResetOut(serializers.Serializer):
    detail = serializers.CharField()
