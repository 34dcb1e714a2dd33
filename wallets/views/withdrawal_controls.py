"""The trader's withdrawal controls: the address whitelist, its switch, and the tier limits.

Views translate; ``wallets.whitelist`` and ``wallets.withdrawal_controls`` decide.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import MAX_OTP_INPUT_LENGTH, MAX_PASSWORD_LENGTH
from exchange_site.api import UNAUTHENTICATED, checked_id, error_doc, valid_input
from exchange_site.fields import MoneyOut, StrictCharField
from exchange_site.money import fmt
from exchange_site.throttles import AuthIPThrottle

from .. import whitelist as services
from ..models import WithdrawalAddress
from ..selectors import currency_get
from ..withdrawal_controls import withdrawal_limits_get

TAGS = ["withdrawals"]
IDENTITY_ERRORS = error_doc("`not_authenticated`, `invalid_password`, `otp_required`, `invalid_otp`.")
THROTTLED = error_doc("`throttled`: too many attempts; see the `Retry-After` header.")


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: no "yes", 1 or "on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AddressIn(serializers.Serializer):
    currency = StrictCharField(max_length=10)
    address = StrictCharField(max_length=128)
    label = StrictCharField(max_length=services.MAX_LABEL, required=False, allow_blank=True, default="")
    password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)
    otp = StrictCharField(max_length=MAX_OTP_INPUT_LENGTH, required=False, allow_blank=True)


class AddressOut(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField(source="currency.code")
    address = serializers.CharField()
    label = serializers.CharField()
    usable_from = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class WhitelistIn(serializers.Serializer):
    whitelist_enabled = StrictBooleanField()
    password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)
    otp = StrictCharField(max_length=MAX_OTP_INPUT_LENGTH, required=False, allow_blank=True)


class WhitelistOut(serializers.Serializer):
    whitelist_enabled = serializers.BooleanField(help_text="What the owner last asked for.")
    effective_from = serializers.DateTimeField(
        allow_null=True, help_text="When that takes effect (switching off waits the cool-down); null: never set."
    )
    in_force = serializers.BooleanField(help_text="Whether withdrawals go only to whitelisted addresses now.")


class LimitOut(serializers.Serializer):
    currency = serializers.CharField(help_text="The cap's currency: its amounts are in this currency.")
    limit_24h = MoneyOut()
    used_24h = MoneyOut()
    remaining = MoneyOut()
    covers = serializers.ListField(
        child=serializers.CharField(), help_text="The currencies whose withdrawals count against this cap."
    )


class LimitsOut(serializers.Serializer):
    tier = serializers.IntegerField()
    reference_currency = serializers.CharField()
    results = LimitOut(many=True)


def _address_list(request: Request) -> list[WithdrawalAddress]:
    return list(WithdrawalAddress.objects.filter(user_id=request.user.pk).select_related("currency").order_by("id"))


class WithdrawalAddressesView(APIView):
    def get_throttles(self):
        # Adding checks a password: limited like a login.
        return [AuthIPThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=TAGS,
        summary="My whitelisted withdrawal addresses",
        operation_id="withdrawal_addresses_list",
        responses={200: AddressOut(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        return Response(AddressOut(_address_list(request), many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Whitelist an address (password, and otp when 2FA is on); usable after the cool-down",
        request=AddressIn,
        responses={
            201: AddressOut,
            400: error_doc("`validation_error` (unknown currency, bad address or label), `too_many_addresses`."),
            401: IDENTITY_ERRORS,
            409: error_doc("`address_already_whitelisted`."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(AddressIn, request.data)
        entry = services.withdrawal_address_add(
            user=request.user,
            currency=currency_get(code=data["currency"]),
            address=data["address"],
            label=data["label"],
            password=data["password"],
            otp=data.get("otp"),
        )
        return Response(AddressOut(entry).data, status=status.HTTP_201_CREATED)


class WithdrawalAddressView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Remove a whitelisted address (immediately)",
        request=None,
        responses={204: None, 401: UNAUTHENTICATED, 404: error_doc("`not_found`: no such address of mine.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.withdrawal_address_remove(user=request.user, address_id=checked_id(pk, "Withdrawal address"))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _state_body(state: services.WhitelistState) -> dict[str, Any]:
    return WhitelistOut(state).data


class WhitelistSettingsView(APIView):
    def get_throttles(self):
        return [AuthIPThrottle()] if self.request.method == "PUT" else []

    @extend_schema(
        tags=TAGS,
        summary="Whether my withdrawals are held to the whitelist",
        operation_id="withdrawal_whitelist_get",
        responses={200: WhitelistOut, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        return Response(_state_body(services.withdrawal_whitelist_state(user=request.user)))

    @extend_schema(
        tags=TAGS,
        summary="Switch the whitelist on (at once) or off (after the cool-down); password, and otp when 2FA is on",
        request=WhitelistIn,
        responses={200: WhitelistOut, 400: error_doc("`validation_error`."), 401: IDENTITY_ERRORS, 429: THROTTLED},
    )
    def put(self, request: Request) -> Response:
        data = valid_input(WhitelistIn, request.data)
        state = services.withdrawal_whitelist_set(
            user=request.user, enabled=data["whitelist_enabled"], password=data["password"], otp=data.get("otp")
        )
        return Response(_state_body(state))


class WithdrawalLimitsView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="My tier and its rolling 24-hour withdrawal limits, with what is used and what remains",
        responses={200: LimitsOut, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        view = withdrawal_limits_get(user=request.user)
        limits = [
            {
                "currency": cap.currency.code,
                "limit_24h": fmt(cap.limit_24h),
                "used_24h": fmt(cap.used_24h),
                "remaining": fmt(cap.remaining),
                "covers": view.covers[cap.currency.pk],
            }
            for cap in view.caps
        ]
        return Response({"tier": view.tier, "reference_currency": view.reference_currency, "results": limits})
