from django.apps import AppConfig


class StatusConfig(AppConfig):
    """Is the exchange up: the health check and the landing page. Above matching and wallets, which it reads."""

    name = "status"
    default_auto_field = "django.db.models.BigAutoField"
