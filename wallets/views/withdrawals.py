"""Withdrawal endpoints: the trader's own withdrawals and the back-office review API.

Both call the services of ``wallets.withdrawals``, like the admin does; this layer only
checks who may call (the back-office role, 2FA on) and translates input and output.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import staff_permission
from accounts.roles import APPROVE_WITHDRAWAL
from exchange_site.api import PAGE_PARAMETERS, UNAUTHENTICATED, checked_id, cursor_page, error_doc, valid_input
from exchange_site.fields import MoneyIn, MoneyOut, StrictCharField

from .. import withdrawals as services
from ..models import Withdrawal, WithdrawalEvent
from ..selectors import currency_get
from ..selectors_withdrawals import (
    withdrawal_get_for_review,
    withdrawal_status_parse,
    withdrawals_for_review,
    withdrawals_for_user,
)

TAGS = ["withdrawals"]
BACKOFFICE_TAGS = ["back office"]

# What a trader may read of the history: staff comments and identities stay internal.
_PUBLIC_REASON_ACTIONS = {WithdrawalEvent.Action.REJECT, WithdrawalEvent.Action.CANCEL}


# -- shapes -------------------------------------------------------------------------


# Text fields are strict: a JSON number or boolean is refused instead of turned into text.
class WithdrawalRequestIn(serializers.Serializer):
    currency = StrictCharField(max_length=10)
    amount = MoneyIn()
    address = StrictCharField(max_length=128)
    otp = StrictCharField(max_length=64, required=False, allow_blank=True)


class HistoryOut(serializers.Serializer):
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    reason = serializers.SerializerMethodField()
    time = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, event: WithdrawalEvent) -> str:
        return event.reason if event.action in _PUBLIC_REASON_ACTIONS else ""


class WithdrawalOut(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField(source="currency.code")
    amount = MoneyOut()
    fee = MoneyOut()
    address = serializers.CharField()
    status = serializers.CharField()
    txid = serializers.CharField()
    reason = serializers.CharField()
    time = serializers.DateTimeField(source="created_at")
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    history = HistoryOut(many=True, source="events.all")


class WithdrawalPageOut(serializers.Serializer):
    results = WithdrawalOut(many=True)
    next = serializers.CharField(allow_null=True)


class StaffHistoryOut(serializers.Serializer):
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    by = serializers.SerializerMethodField()
    reason = serializers.CharField()
    time = serializers.DateTimeField(source="created_at")

    # Steps the system takes (the submission after the funds are locked) have no actor.
    @extend_schema_field({"type": "string", "format": "email", "nullable": True})
    def get_by(self, event: WithdrawalEvent) -> str | None:
        return event.actor.email if event.actor_id else None


class ApprovalOut(serializers.Serializer):
    by = serializers.EmailField(source="actor.email")
    by_id = serializers.IntegerField(source="actor_id")
    comment = serializers.CharField(source="reason")
    time = serializers.DateTimeField(source="created_at")


class UserRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class StaffWithdrawalOut(WithdrawalOut):
    user = UserRefOut()
    required_approvals = serializers.IntegerField()
    approvals = serializers.SerializerMethodField()
    history = StaffHistoryOut(many=True, source="events.all")

    @extend_schema_field(ApprovalOut(many=True))
    def get_approvals(self, withdrawal: Withdrawal) -> list[dict[str, Any]]:
        events = [e for e in withdrawal.events.all() if e.action == WithdrawalEvent.Action.APPROVE]
        return ApprovalOut(events, many=True).data


class StaffWithdrawalPageOut(serializers.Serializer):
    results = StaffWithdrawalOut(many=True)
    next = serializers.CharField(allow_null=True)


class ApproveIn(serializers.Serializer):
    comment = StrictCharField(max_length=services.MAX_REASON, required=False, allow_blank=True, default="")


class RejectIn(serializers.Serializer):
    reason = StrictCharField(max_length=services.MAX_REASON)


class SentIn(serializers.Serializer):
    txid = StrictCharField(max_length=services.MAX_TXID)


class StatusQueryIn(serializers.Serializer):
    status = serializers.CharField(max_length=32, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=10, required=False, allow_blank=True)


# -- helpers ----------------------------------------------------------------------------


def _reload_for_staff(withdrawal: Withdrawal) -> dict[str, Any]:
    return StaffWithdrawalOut(withdrawal_get_for_review(withdrawal_id=withdrawal.pk)).data


def _reload_for_user(request: Request, withdrawal: Withdrawal) -> dict[str, Any]:
    fresh = withdrawals_for_user(user=request.user).get(pk=withdrawal.pk)
    return WithdrawalOut(fresh).data


STATUS_PAGE_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "status", OpenApiTypes.STR, enum=["", *Withdrawal.Status.values], description="Empty: every status."
    ),
]
BAD_QUERY = error_doc("`validation_error`: unknown status or currency, bad `limit` or `cursor`.")


IsBackOfficeReviewer = staff_permission(
    APPROVE_WITHDRAWAL, "This needs the back_office role and two-factor authentication."
)
CanViewWithdrawals = staff_permission(
    "wallets.view_withdrawal", "This needs a back-office or compliance role and two-factor authentication."
)


# -- trader endpoints -------------------------------------------------------------------


class WithdrawalsView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Request a withdrawal (2FA code required; amount + fee are locked)",
        request=WithdrawalRequestIn,
        responses={
            201: WithdrawalOut,
            400: error_doc(
                "`validation_error`, `insufficient_funds`, `withdrawals_disabled`, `min_withdrawal`; "
                "`address_not_whitelisted`, `address_cooling_down` (whitelist on), "
                "`withdrawal_limit_exceeded` (`details.remaining`, in `details.currency`)."
            ),
            401: error_doc(
                "`not_authenticated`; `otp_required`, `invalid_otp`: the one-time password is missing or wrong."
            ),
            403: error_doc("`two_factor_required`: switch 2FA on first; `permission_denied`: account cannot withdraw."),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_input(WithdrawalRequestIn, request.data)
        currency = currency_get(code=data["currency"])
        withdrawal = services.withdrawal_request(
            user=request.user,
            currency=currency,
            amount=data["amount"],
            address=data["address"],
            otp=data.get("otp"),
        )
        return Response(_reload_for_user(request, withdrawal), status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        summary="My withdrawals with their status and history, newest first",
        operation_id="withdrawals_list",
        parameters=[*STATUS_PAGE_PARAMETERS, OpenApiParameter("currency", OpenApiTypes.STR)],
        responses={200: WithdrawalPageOut, 400: BAD_QUERY, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        query = valid_input(StatusQueryIn, request.query_params)
        currency = currency_get(code=query["currency"]) if query.get("currency") else None
        qs = withdrawals_for_user(
            user=request.user, currency=currency, status=withdrawal_status_parse(status=query.get("status"))
        )
        return cursor_page(request, qs, lambda rows: WithdrawalOut(rows, many=True).data)


class WithdrawalCancelView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Cancel my withdrawal while it is pending review (funds unlocked)",
        request=None,
        responses={
            200: WithdrawalOut,
            401: UNAUTHENTICATED,
            404: error_doc("`not_found` (also for another user's withdrawal)."),
            409: error_doc("`invalid_status`."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        withdrawal = services.withdrawal_cancel(user=request.user, withdrawal_id=checked_id(pk, "Withdrawal"))
        return Response(_reload_for_user(request, withdrawal))


# -- back-office endpoints --------------------------------------------------------------


class BackofficeWithdrawalsView(APIView):
    permission_classes = [CanViewWithdrawals]

    @extend_schema(
        tags=BACKOFFICE_TAGS,
        summary="Withdrawals for review, newest first, with their approvals",
        operation_id="backoffice_withdrawals_list",
        parameters=STATUS_PAGE_PARAMETERS,
        responses={
            200: StaffWithdrawalPageOut,
            400: BAD_QUERY,
            401: UNAUTHENTICATED,
            403: error_doc("`permission_denied`."),
        },
    )
    def get(self, request: Request) -> Response:
        query = valid_input(StatusQueryIn, request.query_params)
        qs = withdrawals_for_review(status=withdrawal_status_parse(status=query.get("status")))
        return cursor_page(request, qs, lambda rows: StaffWithdrawalOut(rows, many=True).data)


class BackofficeWithdrawalView(APIView):
    permission_classes = [CanViewWithdrawals]

    @extend_schema(
        tags=BACKOFFICE_TAGS,
        summary="One withdrawal with its approvals and history",
        operation_id="backoffice_withdrawal_get",
        responses={
            200: StaffWithdrawalOut,
            401: UNAUTHENTICATED,
            403: error_doc("`permission_denied`."),
            404: error_doc("`not_found`."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(StaffWithdrawalOut(withdrawal_get_for_review(withdrawal_id=checked_id(pk, "Withdrawal"))).data)


_DECISION_ERRORS = {
    200: StaffWithdrawalOut,
    400: error_doc("`validation_error`: missing or bad comment, reason or txid."),
    401: UNAUTHENTICATED,
    403: error_doc("`permission_denied`: needs the back_office role and 2FA."),
    404: error_doc("`not_found`."),
    409: error_doc("`self_approval`, `already_decided` or `invalid_status`."),
}


class BackofficeApproveView(APIView):
    permission_classes = [IsBackOfficeReviewer]

    @extend_schema(
        tags=BACKOFFICE_TAGS,
        summary="Approve (approved once enough distinct people approved)",
        request=ApproveIn,
        responses=_DECISION_ERRORS,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(ApproveIn, request.data)
        withdrawal = services.withdrawal_approve(
            actor=request.user, withdrawal_id=checked_id(pk, "Withdrawal"), comment=data.get("comment", "")
        )
        return Response(_reload_for_staff(withdrawal))


class BackofficeRejectView(APIView):
    permission_classes = [IsBackOfficeReviewer]

    @extend_schema(
        tags=BACKOFFICE_TAGS,
        summary="Reject with a reason (funds unlocked)",
        request=RejectIn,
        responses=_DECISION_ERRORS,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(RejectIn, request.data)
        withdrawal = services.withdrawal_reject(
            actor=request.user, withdrawal_id=checked_id(pk, "Withdrawal"), reason=data["reason"]
        )
        return Response(_reload_for_staff(withdrawal))


class BackofficeSentView(APIView):
    permission_classes = [IsBackOfficeReviewer]

    @extend_schema(
        tags=BACKOFFICE_TAGS,
        summary="Record the payout txid (status completed: the funds leave)",
        request=SentIn,
        responses=_DECISION_ERRORS,
    )
    def post(self, request: Request, pk: int) -> Response:
        data = valid_input(SentIn, request.data)
        withdrawal = services.withdrawal_mark_sent(
            actor=request.user, withdrawal_id=checked_id(pk, "Withdrawal"), txid=data["txid"]
        )
        return Response(_reload_for_staff(withdrawal))
