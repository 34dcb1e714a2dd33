from django.urls import path

from . import api_backoffice, views

# Mounted under api/v1/; no trailing slashes (a redirect would break a POST).
urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/2fa/setup", views.TwoFactorSetupView.as_view(), name="auth-2fa-setup"),
    path("auth/2fa/confirm", views.TwoFactorConfirmView.as_view(), name="auth-2fa-confirm"),
    path("auth/2fa/disable", views.TwoFactorDisableView.as_view(), name="auth-2fa-disable"),
    path("me", views.MeView.as_view(), name="me"),
    path(
        "backoffice/accounts/<int:pk>/two-factor-reset",
        api_backoffice.TwoFactorResetProposeView.as_view(),
        name="backoffice-two-factor-reset-propose",
    ),
    path(
        "backoffice/two-factor-resets",
        api_backoffice.TwoFactorResetsView.as_view(),
        name="backoffice-two-factor-resets",
    ),
    path(
        "backoffice/two-factor-resets/<int:pk>/approve",
        api_backoffice.TwoFactorResetApproveView.as_view(),
        name="backoffice-two-factor-reset-approve",
    ),
    path(
        "backoffice/two-factor-resets/<int:pk>/reject",
        api_backoffice.TwoFactorResetRejectView.as_view(),
        name="backoffice-two-factor-reset-reject",
    ),
]
