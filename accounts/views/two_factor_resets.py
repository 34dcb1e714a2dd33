"""Back-office API for staff-assisted 2FA resets: the same services as the admin.

This layer checks who may call (``accounts.reset_two_factor``, 2FA on) and translates
input and output; the four-eyes rules live in ``accounts.two_factor_resets``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_site.api import checked_id, cursor_page, error_doc, valid_input
from exchange_site.errors import NotFound
from exchange_site.fields import StrictCharField

from .. import two_factor_resets as services
from ..models import TwoFactorReset, User
from ..permissions import staff_permission
from ..roles import RESET_TWO_FACTOR

TAGS = ["back office"]
# Largest id the databases store; a bigger path id is simply not found.


class ResetUserOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class TwoFactorResetOut(serializers.Serializer):
    id = serializers.IntegerField()
    user = ResetUserOut()
    status = serializers.ChoiceField(choices=TwoFactorReset.Status.choices)
    reason = serializers.CharField()
    proposed_by = ResetUserOut()
    proposed_at = serializers.DateTimeField()
    decided_by = ResetUserOut(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()


class TwoFactorResetPageOut(serializers.Serializer):
    results = TwoFactorResetOut(many=True)
    next = serializers.CharField(allow_null=True)


class ResetProposeIn(serializers.Serializer):
    reason = StrictCharField(max_length=services.MAX_REASON, help_text="How the user's identity was checked.")


class ResetApproveIn(serializers.Serializer):
    comment = StrictCharField(max_length=services.MAX_REASON, required=False, allow_blank=True, default="")


class ResetRejectIn(serializers.Serializer):
    reason = StrictCharField(max_length=services.MAX_REASON)


class ResetStatusQueryIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=["", *TwoFactorReset.Status.values], required=False, allow_blank=True)


CanResetTwoFactor = staff_permission(RESET_TWO_FACTOR, "This needs the back_office role and two-factor authentication.")
CanViewTwoFactorResets = staff_permission(
    "accounts.view_twofactorreset", "This needs a back-office or compliance role and two-factor authentication."
)


def _resets() -> Any:
    return TwoFactorReset.objects.select_related("user", "proposed_by", "decided_by")


def _out(reset: TwoFactorReset) -> dict[str, Any]:
    return TwoFactorResetOut(_resets().get(pk=reset.pk)).data


_COMMON = {
    401: error_doc("`not_authenticated`."),
    403: error_doc("`permission_denied`: needs the back_office role and 2FA."),
}


class TwoFactorResetsView(APIView):
    permission_classes = [CanViewTwoFactorResets]

    @extend_schema(
        tags=TAGS,
        summary="2FA reset proposals, newest first",
        operation_id="backoffice_two_factor_resets_list",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=["", *TwoFactorReset.Status.values]),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 500 (default 100)."),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="The `next` value of the previous page."),
        ],
        responses={200: TwoFactorResetPageOut, 400: error_doc("`validation_error`."), **_COMMON},
    )
    def get(self, request: Request) -> Response:
        query = valid_input(ResetStatusQueryIn, request.query_params)
        qs = _resets()
        if query.get("status"):
            qs = qs.filter(status=query["status"])
        return cursor_page(request, qs, lambda rows: TwoFactorResetOut(rows, many=True).data)


class TwoFactorResetProposeView(APIView):
    permission_classes = [CanResetTwoFactor]

    @extend_schema(
        tags=TAGS,
        summary="Propose resetting a user's 2FA (lost authenticator); a second staff member decides",
        request=ResetProposeIn,
        responses={
            201: TwoFactorResetOut,
            400: error_doc("`validation_error`: missing reason, system account."),
            **_COMMON,
            404: error_doc("`not_found`: no such user."),
            409: error_doc("`self_approval` (one's own account), `two_factor_not_enabled`, `reset_already_proposed`."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(ResetProposeIn, request.data)
        user = User.objects.filter(pk=checked_id(pk, "User")).first()
        if user is None:
            raise NotFound("User not found.")
        reset = services.two_factor_reset_propose(actor=request.user, user=user, reason=data["reason"])
        return Response(_out(reset), status=status.HTTP_201_CREATED)


_DECISION = {
    200: TwoFactorResetOut,
    400: error_doc("`validation_error`: missing or bad reason or comment."),
    **_COMMON,
    404: error_doc("`not_found`."),
    409: error_doc("`self_approval` (proposer or the user concerned), `already_decided`."),
}


class TwoFactorResetApproveView(APIView):
    permission_classes = [CanResetTwoFactor]

    @extend_schema(
        tags=TAGS,
        summary="Approve a colleague's proposal: the user's 2FA is switched off and every session ends",
        request=ResetApproveIn,
        responses=_DECISION,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(ResetApproveIn, request.data)
        reset = services.two_factor_reset_approve(
            actor=request.user, reset_id=checked_id(pk, "2FA reset"), comment=data.get("comment", "")
        )
        return Response(_out(reset))


class TwoFactorResetRejectView(APIView):
    permission_classes = [CanResetTwoFactor]

    @extend_schema(
        tags=TAGS, summary="Reject a colleague's proposal with a reason", request=ResetRejectIn, responses=_DECISION
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(ResetRejectIn, request.data)
        reset = services.two_factor_reset_reject(
            actor=request.user, reset_id=checked_id(pk, "2FA reset"), reason=data["reason"]
        )
        return Response(_out(reset))
