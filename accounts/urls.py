from django.urls import path

from .views import auth, passwords, two_factor_resets

# Mounted under api/v1/; no trailing slashes (a redirect would break a POST).
urlpatterns = [
    path("auth/register", auth.RegisterView.as_view(), name="auth-register"),
    path("auth/token", auth.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", auth.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/2fa/setup", auth.TwoFactorSetupView.as_view(), name="auth-2fa-setup"),
    path("auth/2fa/confirm", auth.TwoFactorConfirmView.as_view(), name="auth-2fa-confirm"),
    path("auth/2fa/disable", auth.TwoFactorDisableView.as_view(), name="auth-2fa-disable"),
    path("auth/password/change", passwords.PasswordChangeView.as_view(), name="auth-password-change"),
    path("auth/password/reset", passwords.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        passwords.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("me", auth.MeView.as_view(), name="me"),
    path(
        "backoffice/accounts/<int:pk>/two-factor-reset",
        two_factor_resets.TwoFactorResetProposeView.as_view(),
        name="backoffice-two-factor-reset-propose",
    ),
    path(
        "backoffice/two-factor-resets",
        two_factor_resets.TwoFactorResetsView.as_view(),
        name="backoffice-two-factor-resets",
    ),
    path(
        "backoffice/two-factor-resets/<int:pk>/approve",
        two_factor_resets.TwoFactorResetApproveView.as_view(),
        name="backoffice-two-factor-reset-approve",
    ),
    path(
        "backoffice/two-factor-resets/<int:pk>/reject",
        two_factor_resets.TwoFactorResetRejectView.as_view(),
        name="backoffice-two-factor-reset-reject",
    ),
]
