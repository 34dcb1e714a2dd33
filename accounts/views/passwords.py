"""Password change and reset: translate HTTP to ``accounts.passwords`` and back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import error_doc, valid_input
from exchange_site.throttles import AuthIPThrottle, PasswordResetThrottle

from .. import passwords
from ..serializers import PasswordChangeIn, PasswordResetConfirmIn, PasswordResetIn, PasswordResetOut
from ..services import FAMILY_CLAIM

TAGS = ["accounts"]
RESET_ANSWER = {"detail": "If this address is registered, a reset link is on its way."}


class PasswordChangeView(APIView):
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Change the password; every other session is logged out (this one stays)",
        request=PasswordChangeIn,
        responses={
            204: OpenApiResponse(description="Changed; no body."),
            400: error_doc("`validation_error`: missing fields, or a new password the validators refuse."),
            401: error_doc("`invalid_password`: wrong current password; `not_authenticated`."),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordChangeIn, request.data)
        claims = getattr(request.auth, "payload", None) or {}
        passwords.password_change(
            user=request.user,
            current_password=data["current_password"],
            new_password=data["new_password"],
            keep_family=claims.get(FAMILY_CLAIM),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIPThrottle, PasswordResetThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Email a single-use password reset link; the same answer whether the address is registered or not",
        request=PasswordResetIn,
        responses={
            202: PasswordResetOut,
            400: error_doc("`validation_error`: no email field."),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordResetIn, request.data)
        passwords.password_reset_request(email=data["email"])
        return Response(RESET_ANSWER, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIPThrottle]

    @extend_schema(
        tags=TAGS,
        summary="Set a new password with the emailed token; every session is logged out",
        request=PasswordResetConfirmIn,
        responses={
            204: OpenApiResponse(description="Changed; no body."),
            400: error_doc(
                "`invalid_reset_token`: malformed, expired or already used token; `validation_error`: missing "
                "fields or a new password the validators refuse."
            ),
            429: error_doc("`throttled`."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(PasswordResetConfirmIn, request.data)
        passwords.password_reset_confirm(token=data["token"], new_password=data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
