from django.apps import AppConfig


class MarketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "markets"

    def ready(self) -> None:
        # Connects the signals that tell every process a market or currency changed.
        from . import selectors_cached  # noqa: F401
