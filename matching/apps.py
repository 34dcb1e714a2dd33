from django.apps import AppConfig


class MatchingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "matching"

    def ready(self) -> None:
        from exchange_site import events
        from exchange_site.events import BatchCommitted, MarketChanged, OrderPlaced, OrdersChanged, Stage

        from .market_data import market_data_prepare, market_data_publish
        from .wakeup import wake_for

        # The batch's ticker in memory first (the pushes send the same one), the cache
        # written after the pushes were queued.
        events.subscribe(BatchCommitted, market_data_prepare, stage=Stage.PREPARE)
        events.subscribe(BatchCommitted, market_data_publish, stage=Stage.REACT)
        # New orders, cancel requests and reopened markets wake the matcher.
        for event_type in (OrderPlaced, OrdersChanged, MarketChanged):
            events.subscribe(event_type, wake_for, stage=Stage.REACT)
