from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Everything WebSocket: the consumer, the per-process hub, the publisher and its events."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "realtime"

    def ready(self) -> None:
        # Every process that matches, settles, places orders or changes balances (the
        # matcher, the Celery worker, the web server, runexchange) pushes what it commits.
        from .subscribers import subscribe

        subscribe()
