"""Accounts API: translate HTTP to the services in ``accounts.services`` and back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import error_doc, valid_input
from exchange_site.throttles import AuthAccountThrottle, AuthIPThrottle

from .. import services
from ..otp import qr_svg
from ..selectors import two_factor_enabled
from ..serializers import (
    MeOut,
    PasswordIn,
    PasswordOtpIn,
    RefreshIn,
    RegisterIn,
    TokenObtainIn,
    TokenPairOut,
    TwoFactorConfirmOut,
    TwoFactorDisableOut,
    TwoFactorSetupOut,
    UserOut,
)

TAGS = ["accounts"]


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Create an account",
        request=RegisterIn,
        responses={
            201: UserOut,
            400: error_doc("`validation_error`: bad email, email already registered, weak password."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(RegisterIn, request.data)
        user = services.user_register(email=data["email"], password=data["password"])
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIPThrottle, AuthAccountThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Log in: obtain an access and a refresh token",
        request=TokenObtainIn,
        responses={
            200: TokenPairOut,
            400: error_doc("`validation_error`."),
            401: error_doc("`not_authenticated` (wrong email or password), `otp_required`, `invalid_otp`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(TokenObtainIn, request.data)
        pair = services.token_obtain(email=data["email"], password=data["password"], otp=data.get("otp"))
        return Response(TokenPairOut(pair).data)


class TokenRefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Rotate a refresh token into a new pair (the old refresh token stops working)",
        request=RefreshIn,
        responses={
            200: TokenPairOut,
            400: error_doc("`validation_error`."),
            401: error_doc(
                "`not_authenticated`: invalid, expired or revoked refresh token; `refresh_token_reused`: the token "
                "was already rotated away, so its whole session was revoked; `session_expired`: the session reached "
                "its absolute lifetime."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(RefreshIn, request.data)
        pair = services.token_refresh(refresh=data["refresh"])
        return Response(TokenPairOut(pair).data)


class LogoutView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Log out: revoke a refresh token",
        request=RefreshIn,
        responses={
            205: OpenApiResponse(description="Revoked; no body."),
            400: error_doc("`validation_error`: invalid, expired, foreign or already revoked refresh token."),
            401: error_doc("`not_authenticated`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(RefreshIn, request.data)
        services.token_revoke(user=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeView(APIView):
    @extend_schema(
        tags=TAGS, summary="The logged-in account", responses={200: MeOut, 401: error_doc("`not_authenticated`.")}
    )
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            MeOut(
                {
                    "id": user.pk,
                    "email": user.email,
                    "two_factor_enabled": two_factor_enabled(user=user),
                    "tier": user.tier,
                    "trading_frozen": user.trading_frozen,
                    "withdrawals_frozen": user.withdrawals_frozen,
                }
            ).data
        )


PASSWORD_ERRORS = "`invalid_password`: wrong password; `not_authenticated`: no or bad access token."


class TwoFactorSetupView(APIView):
    # Per-IP limit: a stolen access token must not become a password-guessing oracle.
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Start enabling two-factor authentication (TOTP); needs the password",
        request=PasswordIn,
        responses={
            200: TwoFactorSetupOut,
            400: error_doc("`validation_error`: missing or malformed password."),
            401: error_doc(PASSWORD_ERRORS),
            409: error_doc("`two_factor_already_enabled`."),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordIn, request.data)
        services.password_verify(user=request.user, password=data["password"])
        setup = services.two_factor_setup(user=request.user)
        return Response(
            TwoFactorSetupOut(
                {"otpauth_url": setup.otpauth_url, "secret": setup.secret, "qr_svg": qr_svg(setup.otpauth_url)}
            ).data
        )


class TwoFactorConfirmView(APIView):
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Finish enabling two-factor authentication; every other session is revoked, a new pair answered",
        request=PasswordOtpIn,
        responses={
            200: TwoFactorConfirmOut,
            400: error_doc("`validation_error` (also when no setup was started)."),
            401: error_doc(PASSWORD_ERRORS + " `invalid_otp`: wrong, used or throttled code."),
            409: error_doc("`two_factor_already_enabled`."),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordOtpIn, request.data)
        services.password_verify(user=request.user, password=data["password"])
        codes = services.two_factor_confirm(user=request.user, otp=data["otp"])
        pair = services.token_issue(user=request.user)
        return Response(
            TwoFactorConfirmOut(
                {"two_factor_enabled": True, "backup_codes": codes, "access": pair.access, "refresh": pair.refresh}
            ).data
        )


class TwoFactorDisableView(APIView):
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Switch two-factor authentication off; needs the password and a current code",
        request=PasswordOtpIn,
        responses={
            200: TwoFactorDisableOut,
            400: error_doc("`validation_error`: missing or malformed password or otp."),
            401: error_doc(PASSWORD_ERRORS + " `invalid_otp`: wrong, used or throttled code."),
            409: error_doc("`two_factor_not_enabled`."),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordOtpIn, request.data)
        services.password_verify(user=request.user, password=data["password"])
        services.two_factor_disable(user=request.user, otp=data["otp"])
        return Response(TwoFactorDisableOut({"two_factor_enabled": False}).data)
