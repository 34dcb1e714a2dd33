"""The /api/v3 view base: Binance's parameters, signed-request authentication, weights, errors."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apikeys.models import ApiKey
from apikeys.signing import key_refused, signed_request_verify

from .errors import binance_exception_handler
from .limits import weight_use
from .params import Params


def client_ip(request: Request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as NUM_PROXIES says."""
    return BaseThrottle().get_ident(request)


def params_of(request: Request) -> Params:
    """The request's Binance parameters, parsed once from the raw query string and body."""
    params = getattr(request._request, "binance_params", None)
    if params is None:
        params = Params(query=request.META.get("QUERY_STRING", ""), body=request._request.body)
        request._request.binance_params = params
    return params


class BinanceSignatureAuthentication(BaseAuthentication):
    """``X-MBX-APIKEY`` plus ``timestamp``/``recvWindow``/``signature``, as Binance checks them."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey]:
        key = signed_request_verify(
            api_key=request.META.get("HTTP_X_MBX_APIKEY"),
            params=params_of(request).values,
            query=request.META.get("QUERY_STRING", ""),
            body=request._request.body,
            client_ip=client_ip(request),
            now_ms=int(time.time() * 1000),
        )
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return "X-MBX-APIKEY"


class KeyMayRead(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise key_refused()
        return True


class KeyMayTrade(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey) or not request.auth.can_trade:
            raise key_refused()
        return True


class BinanceView(APIView):
    """Public endpoint (security NONE): weight counted per client IP."""

    authentication_classes: list = []
    permission_classes: list = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []
    throttle_classes: list = []
    # Binance's own documentation describes this surface (docs/BINANCE_API.md), not our OpenAPI schema.
    schema = None
    weight = 1

    def get_exception_handler(self):
        return binance_exception_handler

    def request_weight(self, request: Request) -> int:
        return self.weight

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        params_of(request)
        super().initial(request, *args, **kwargs)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        ident = f"key:{key.pk}" if key is not None else f"ip:{client_ip(request)}"
        self.used_weight = weight_use(ident=ident, weight=self.request_weight(request))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        used = getattr(self, "used_weight", None)
        if used is not None and "X-MBX-USED-WEIGHT-1M" not in response:
            response["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response


class SignedView(BinanceView):
    """USER_DATA endpoint: a signed request with any enabled key; weight counted per key."""

    authentication_classes = [BinanceSignatureAuthentication]
    permission_classes = [KeyMayRead]


class TradeView(SignedView):
    """TRADE endpoint: the key must carry the trade permission."""

    permission_classes = [KeyMayTrade]
