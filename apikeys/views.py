"""API keys over the JWT API: views translate, ``apikeys.services`` decides."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.selectors import two_factor_enabled
from exchange_site.api import checked_id, error_doc, valid_input
from exchange_site.throttles import AuthIPThrottle

from . import services
from .models import ApiKey
from .serializers import ApiKeyCreatedOut, ApiKeyCreateIn, ApiKeyOut, ApiKeyUpdateIn

TAGS = ["api keys"]
NOT_MINE = error_doc("`not_found`: no such key of mine.")
UNAUTHENTICATED = error_doc("`not_authenticated`: missing, invalid or expired access token.")


class ApiKeysView(APIView):
    def get_throttles(self):
        # Creating checks a password: limited like a login.
        return [AuthIPThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=TAGS, summary="My API keys (never a secret)", responses={200: ApiKeyOut(many=True), 401: UNAUTHENTICATED}
    )
    def get(self, request: Request) -> Response:
        keys = ApiKey.objects.filter(user_id=request.user.pk).order_by("id")
        return Response(ApiKeyOut(keys, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Create an API key; an HMAC key's secret is in this answer only",
        request=ApiKeyCreateIn,
        responses={
            201: ApiKeyCreatedOut,
            400: error_doc("`validation_error`, `too_many_api_keys`."),
            401: error_doc("`not_authenticated`, `invalid_password`, `otp_required`, `invalid_otp`."),
            409: error_doc("`hmac_keys_unavailable`: the server has no encryption key for HMAC secrets."),
            429: error_doc("`throttled`: too many attempts; see the `Retry-After` header."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(ApiKeyCreateIn, request.data)
        account_services.password_verify(user=request.user, password=data["password"])
        if two_factor_enabled(user=request.user):
            if not data.get("otp", "").strip():
                raise account_services.OtpRequired()
            if not account_services.otp_verify(user=request.user, otp=data["otp"]):
                raise account_services.InvalidOtp()
        key, secret = services.api_key_create(
            user_id=request.user.pk,
            name=data["name"],
            permissions=data["permissions"],
            ip_allowlist=data["ip_allowlist"],
            type=data["type"],
            public_key=data.get("public_key"),
        )
        body = ApiKeyOut(key).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Rename a key, change its IP allowlist, or switch it off or on",
        request=ApiKeyUpdateIn,
        responses={
            200: ApiKeyOut,
            400: error_doc("`validation_error`."),
            401: UNAUTHENTICATED,
            403: error_doc("`permission_denied`: the exchange disabled this key; it cannot be enabled again."),
            404: NOT_MINE,
        },
    )
    def patch(self, request: Request, key_id: int) -> Response:
        data = valid_input(ApiKeyUpdateIn, request.data)
        key = services.api_key_update(user_id=request.user.pk, key_id=checked_id(key_id, "API key"), **data)
        return Response(ApiKeyOut(key).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a key; refused everywhere at once",
        responses={204: None, 401: UNAUTHENTICATED, 404: NOT_MINE},
    )
    def delete(self, request: Request, key_id: int) -> Response:
        services.api_key_delete(user_id=request.user.pk, key_id=checked_id(key_id, "API key"))
        return Response(status=status.HTTP_204_NO_CONTENT)
