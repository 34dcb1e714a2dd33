from django.apps import AppConfig


class MatchingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "matching"

    def ready(self) -> None:
        # Every process that matches, settles or changes balances (run_matcher,
        # runexchange, the Celery worker, the web server) then pushes its committed
        # events to WebSocket clients.
        from .market_data import hooks_register as market_data_hooks_register
        from .publish import hooks_register

        hooks_register()
        market_data_hooks_register()
