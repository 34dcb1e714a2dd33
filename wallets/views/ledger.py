"""My balances and my ledger: what the one wallet service wrote."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import PAGE_PARAMETERS, UNAUTHENTICATED, cursor_page
from exchange_site.money import fmt

from .. import selectors
from ..serializers import BalanceSerializer, LedgerEntrySerializer, LedgerPageSerializer
from .queries import BAD_QUERY, CURRENCY_FILTER, optional_currency


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
        currency = optional_currency(request)
        qs = selectors.ledger_entries_for_user(user=request.user, currency=currency)
        return cursor_page(request, qs, lambda rows: LedgerEntrySerializer(rows, many=True).data)
