"""The admin app with the exchange's back-office site as the default ``admin.site``.

Kept apart from ``admin_site`` because this module is imported while the app registry
is still loading, before any model (django-otp's included) may be imported.
"""

from django.contrib.admin.apps import AdminConfig


class ExchangeAdminConfig(AdminConfig):
    default_site = "exchange_site.admin_site.ExchangeAdminSite"
