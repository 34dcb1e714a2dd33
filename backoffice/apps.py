from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The back office's own screens on top of every domain app: dashboard charts, the customer
    page, staff 2FA enrolment, money columns at the currency's precision."""

    name = "backoffice"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin
        from django.db.models.signals import post_save

        from markets.models import Currency, Market

        from .money import money_columns_install, precisions_forget

        # The admin registered every ModelAdmin during its own ready() (it comes first).
        money_columns_install(admin.site)
        for model in (Currency, Market):
            post_save.connect(precisions_forget, sender=model, dispatch_uid=f"backoffice-precisions-{model.__name__}")
