"""The back office's own admin pages, wrapped by the admin site (staff login, OTP, no caching)."""

from django.contrib import admin
from django.urls import path

from . import views_customer, views_two_factor

urlpatterns = [
    path("customers/", admin.site.admin_view(views_customer.customer_search_view), name="backoffice-customers"),
    path("customers/<int:user_id>/", admin.site.admin_view(views_customer.customer_view), name="backoffice-customer"),
    path(
        "customers/<int:user_id>/<str:section>.csv",
        admin.site.admin_view(views_customer.customer_export_view),
        name="backoffice-customer-export",
    ),
    # Reached before the admin login: a staff member without 2FA cannot log in yet.
    path("two-factor/", views_two_factor.two_factor_enrol, name="backoffice-two-factor"),
]
