from django.apps import AppConfig


class TradingConfig(AppConfig):
    """A trader's orders: placement and cancel services and the order REST views (no models)."""

    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"
