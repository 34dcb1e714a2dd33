"""Balances, ledger, deposits and the custody deposit webhook."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import cursor_page, error_doc
from exchange_site.errors import DomainError
from markets.precision import fmt

from . import selectors
from .deposits import custody_deposit_notify, deposit_address_get
from .serializers import (
    BalanceSerializer,
    CurrencyQuerySerializer,
    CustodyDepositSerializer,
    DepositAddressSerializer,
    DepositPageSerializer,
    DepositSerializer,
    LedgerEntrySerializer,
    LedgerPageSerializer,
    OptionalCurrencyQuerySerializer,
)

SIGNATURE_HEADER = "X-Custody-Signature"

PAGE_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 500 (default 100)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="The `next` value of the previous page."),
]
CURRENCY_FILTER = OpenApiParameter("currency", OpenApiTypes.STR, description="Only this currency code.")


UNAUTHENTICATED = error_doc("`not_authenticated`: missing, invalid or expired access token.")
BAD_QUERY = error_doc("`validation_error`: unknown currency, bad `limit` or `cursor`.")


def _optional_currency(request: Request):
    query = OptionalCurrencyQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    code = query.validated_data.get("currency")
    return selectors.currency_get(code=code) if code else None


class BalancesView(APIView):
    @extend_schema(
        responses={200: BalanceSerializer(many=True), 401: UNAUTHENTICATED},
        summary="My balances in every currency",
        tags=["wallet"],
    )
    def get(self, request: Request) -> Response:
        rows = selectors.balances_for_user(user=request.user)
        # What BalanceSerializer gives (the schema above), without building its fields per row.
        return Response(
            [
                {
                    "currency": r.currency,
                    "balance": fmt(r.balance),
                    "locked": fmt(r.locked),
                    "available": fmt(r.available),
                }
                for r in rows
            ]
        )


class LedgerView(APIView):
    @extend_schema(
        parameters=[CURRENCY_FILTER, *PAGE_PARAMETERS],
        responses={200: LedgerPageSerializer, 400: BAD_QUERY, 401: UNAUTHENTICATED},
        summary="My ledger entries, newest first",
        tags=["wallet"],
    )
    def get(self, request: Request) -> Response:
        currency = _optional_currency(request)
        qs = selectors.ledger_entries_for_user(user=request.user, currency=currency)
        return cursor_page(request, qs, lambda rows: LedgerEntrySerializer(rows, many=True).data)


class DepositAddressView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("currency", OpenApiTypes.STR, required=True)],
        responses={
            200: DepositAddressSerializer,
            400: error_doc("`validation_error` (currency missing or unknown), `deposits_disabled`."),
            401: UNAUTHENTICATED,
        },
        summary="My deposit address for a currency (allocated on the first ask)",
        tags=["funding"],
    )
    def get(self, request: Request) -> Response:
        query = CurrencyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        currency = selectors.currency_get(code=query.validated_data["currency"])
        address = deposit_address_get(user=request.user, currency=currency)
        return Response(DepositAddressSerializer(address).data)


class DepositsView(APIView):
    @extend_schema(
        parameters=[CURRENCY_FILTER, *PAGE_PARAMETERS],
        responses={200: DepositPageSerializer, 400: BAD_QUERY, 401: UNAUTHENTICATED},
        summary="My deposits, newest first",
        tags=["funding"],
    )
    def get(self, request: Request) -> Response:
        currency = _optional_currency(request)
        qs = selectors.deposits_for_user(user=request.user, currency=currency)
        return cursor_page(request, qs, lambda rows: DepositSerializer(rows, many=True).data)


class CustodyDepositView(APIView):
    """Webhook of the custody provider, authenticated by an HMAC of the raw body, not a JWT."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=CustodyDepositSerializer,
        responses={
            200: DepositSerializer,
            400: error_doc("`validation_error`, `deposits_disabled`, `unknown_address`."),
            401: error_doc("`invalid_signature`: missing or wrong X-Custody-Signature; nothing is read or written."),
            409: error_doc(
                "`conflict`: the output (txid, output_index) is already known with another amount or address."
            ),
            413: error_doc("`validation_error`: body larger than the upload limit."),
        },
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="hex(HMAC-SHA256(CUSTODY_WEBHOOK_SECRET, raw body))",
            )
        ],
        summary="Custody deposit notification (idempotent by currency, txid and output_index)",
        tags=["custody"],
    )
    def post(self, request: Request) -> Response:
        try:
            body = request.body
        except RequestDataTooBig as exc:
            raise DomainError("Request body too large.", code="validation_error", status_code=413) from exc
        # Verify before parsing: nothing from an unsigned body is ever looked at.
        if not _signature_valid(body, request.headers.get(SIGNATURE_HEADER, "")):
            raise DomainError("Missing or invalid custody signature.", code="invalid_signature", status_code=401)
        data = CustodyDepositSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        deposit = custody_deposit_notify(
            currency_code=v["currency"],
            address=v["address"],
            amount=v["amount"],
            txid=v["txid"],
            confirmations=v["confirmations"],
            output_index=v["output_index"],
        )
        return Response(DepositSerializer(deposit).data)


def _signature_valid(body: bytes, given: str) -> bool:
    expected = hmac.new(settings.CUSTODY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    # Header values are latin-1 text; compare bytes so any input compares in constant time.
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "surrogateescape"))
