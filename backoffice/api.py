"""Back-office API: account freezes and the staff audit trail, on the same services as the admin.

This layer checks who may call (``backoffice.freeze_account`` or, for the audit trail,
``accounts.view_staffaction``; staff with 2FA on) and translates input and output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import StaffAction
from accounts.permissions import staff_permission
from accounts.roles import FREEZE_ACCOUNT, VIEW_STAFF_ACTIONS
from exchange_site.api import PAGE_PARAMETERS, UNAUTHENTICATED, checked_id, cursor_page, error_doc, valid_input
from exchange_site.errors import InvalidInput
from exchange_site.fields import StrictBooleanField, StrictCharField

from . import freezes as services

TAGS = ["back office"]

CanFreeze = staff_permission(
    FREEZE_ACCOUNT, "This needs the back_office or compliance role and two-factor authentication."
)
CanReadAudit = staff_permission(VIEW_STAFF_ACTIONS, "This needs the compliance role and two-factor authentication.")


# -- shapes -------------------------------------------------------------------------


class FreezeIn(serializers.Serializer):
    trading = StrictBooleanField(required=False, default=False)
    withdrawals = StrictBooleanField(required=False, default=False)
    reason = StrictCharField(max_length=services.MAX_REASON)


class UnfreezeIn(serializers.Serializer):
    reason = StrictCharField(max_length=services.MAX_REASON)


class UnfreezeRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    requested_by = serializers.EmailField(source="requested_by.email")
    reason = serializers.CharField()
    requested_at = serializers.DateTimeField()
    trading = serializers.BooleanField(help_text="Trading was frozen when the unfreeze was asked for.")
    withdrawals = serializers.BooleanField(help_text="Withdrawals were frozen when the unfreeze was asked for.")


class FreezeStateOut(serializers.Serializer):
    user_id = serializers.IntegerField(source="user.pk")
    email = serializers.EmailField(source="user.email")
    trading_frozen = serializers.BooleanField(source="user.trading_frozen")
    withdrawals_frozen = serializers.BooleanField(source="user.withdrawals_frozen")
    canceled_orders = serializers.IntegerField(help_text="Open orders this call asked the matcher to cancel.")
    pending_unfreeze = UnfreezeRequestOut(allow_null=True, help_text="Waits for a second staff member's approval.")


class StaffActionOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor_email = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    ip = serializers.CharField(allow_null=True)


class StaffActionPageOut(serializers.Serializer):
    results = StaffActionOut(many=True)
    next = serializers.CharField(allow_null=True)


class AuditQueryIn(serializers.Serializer):
    actor = serializers.CharField(max_length=254, required=False, allow_blank=True)
    action = serializers.CharField(max_length=64, required=False, allow_blank=True)
    since = serializers.CharField(max_length=64, required=False, allow_blank=True)


# -- helpers ----------------------------------------------------------------------------


def _state_out(state: services.FreezeState) -> dict[str, Any]:
    return FreezeStateOut(
        {"user": state.user, "canceled_orders": state.canceled_orders, "pending_unfreeze": state.pending_unfreeze}
    ).data


def _since(raw: str) -> datetime:
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput.field("since", "since must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z.")
    return make_aware(value) if is_naive(value) else value


def staff_actions_filtered(*, actor: str = "", action: str = "", since: str = "") -> QuerySet[StaffAction]:
    """The audit trail by actor (id or email, as typed at the time), action and earliest time."""
    qs = StaffAction.objects.all()
    actor = actor.strip()
    if actor:
        if actor.isdigit():
            qs = qs.filter(actor_id=checked_id(int(actor), "Actor")) if len(actor) < 20 else qs.none()
        else:
            qs = qs.filter(Q(actor_email__iexact=actor) | Q(actor__email__iexact=actor))
    if action.strip():
        qs = qs.filter(action=action.strip())
    if since.strip():
        qs = qs.filter(at__gte=_since(since.strip()))
    return qs


_FREEZE_ERRORS = {
    200: FreezeStateOut,
    400: error_doc("`validation_error`: missing reason, neither trading nor withdrawals, the system account."),
    401: UNAUTHENTICATED,
    403: error_doc("`permission_denied`: needs the back_office or compliance role and 2FA."),
    404: error_doc("`not_found`: no such account."),
    409: error_doc("`self_approval`: one's own account or request; `already_decided`: the account is not frozen."),
}


# -- views --------------------------------------------------------------------------------


class FreezeView(APIView):
    permission_classes = [CanFreeze]

    @extend_schema(
        tags=TAGS,
        summary="Freeze trading, withdrawals or both (a trading freeze cancels the open orders)",
        operation_id="backoffice_account_freeze",
        request=FreezeIn,
        responses=_FREEZE_ERRORS,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(FreezeIn, request.data)
        state = services.account_freeze(
            actor=request.user,
            user_id=checked_id(pk, "Account"),
            trading=data["trading"],
            withdrawals=data["withdrawals"],
            reason=data["reason"],
        )
        return Response(_state_out(state))


class UnfreezeView(APIView):
    permission_classes = [CanFreeze]

    @extend_schema(
        tags=TAGS,
        summary="Ask for an unfreeze, or approve a colleague's pending one (four eyes)",
        operation_id="backoffice_account_unfreeze",
        request=UnfreezeIn,
        responses=_FREEZE_ERRORS,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(UnfreezeIn, request.data)
        state = services.account_unfreeze(actor=request.user, user_id=checked_id(pk, "Account"), reason=data["reason"])
        return Response(_state_out(state))


class AuditView(APIView):
    permission_classes = [CanReadAudit]

    @extend_schema(
        tags=TAGS,
        summary="The staff audit trail, newest first",
        operation_id="backoffice_audit_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("actor", OpenApiTypes.STR, description="A staff member's id or email."),
            OpenApiParameter("action", OpenApiTypes.STR, description="e.g. `account.freeze`, `admin.login_failed`."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only actions at or after this time."),
        ],
        responses={
            200: StaffActionPageOut,
            400: error_doc("`validation_error`: bad `since`, `limit` or `cursor`."),
            401: UNAUTHENTICATED,
            403: error_doc("`permission_denied`: needs the compliance role and 2FA."),
        },
    )
    def get(self, request: Request) -> Response:
        query = valid_input(AuditQueryIn, request.query_params)
        qs = staff_actions_filtered(
            actor=query.get("actor", ""), action=query.get("action", ""), since=query.get("since", "")
        )
        return cursor_page(request, qs, lambda rows: StaffActionOut(rows, many=True).data)
