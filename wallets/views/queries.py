"""Query parameters the ledger and deposit lists share."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from exchange_site.api import error_doc
from markets.models import Currency

from .. import selectors
from ..serializers import OptionalCurrencyQuerySerializer

CURRENCY_FILTER = OpenApiParameter("currency", OpenApiTypes.STR, description="Only this currency code.")
BAD_QUERY = error_doc("`validation_error`: unknown currency, bad `limit` or `cursor`.")


def optional_currency(request: Request) -> Currency | None:
    """The ``?currency=`` filter: None when absent, ``validation_error`` when unknown."""
    query = OptionalCurrencyQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    code = query.validated_data.get("currency")
    return selectors.currency_get(code=code) if code else None
