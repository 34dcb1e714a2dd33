"""Withdrawal routes, mounted under api/v1/ (no trailing slashes)."""

from django.urls import path

from . import api_withdrawals as views

urlpatterns = [
    path("withdrawals", views.WithdrawalsView.as_view(), name="withdrawals"),
    path("withdrawals/<int:pk>/cancel", views.WithdrawalCancelView.as_view(), name="withdrawal-cancel"),
    path("backoffice/withdrawals", views.BackofficeWithdrawalsView.as_view(), name="backoffice-withdrawals"),
    path("backoffice/withdrawals/<int:pk>", views.BackofficeWithdrawalView.as_view(), name="backoffice-withdrawal"),
    path(
        "backoffice/withdrawals/<int:pk>/approve",
        views.BackofficeApproveView.as_view(),
        name="backoffice-withdrawal-approve",
    ),
    path(
        "backoffice/withdrawals/<int:pk>/reject",
        views.BackofficeRejectView.as_view(),
        name="backoffice-withdrawal-reject",
    ),
    path("backoffice/withdrawals/<int:pk>/sent", views.BackofficeSentView.as_view(), name="backoffice-withdrawal-sent"),
]
