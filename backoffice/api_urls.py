"""The back-office API routes of this app, mounted under api/v1/ (no trailing slashes)."""

from django.urls import path

from . import api

urlpatterns = [
    path("backoffice/accounts/<int:pk>/freeze", api.FreezeView.as_view(), name="backoffice-account-freeze"),
    path("backoffice/accounts/<int:pk>/unfreeze", api.UnfreezeView.as_view(), name="backoffice-account-unfreeze"),
    path("backoffice/audit", api.AuditView.as_view(), name="backoffice-audit"),
]
