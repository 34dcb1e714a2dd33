"""WebSocket routes, used by ``exchange_site.asgi`` and the one-process ``runexchange``."""

from django.urls import re_path

from .consumers import ExchangeConsumer

websocket_urlpatterns: list = [re_path(r"^ws/v1/?$", ExchangeConsumer.as_asgi())]
