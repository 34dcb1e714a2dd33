"""WebSocket routes of the ws processes: the project's ``/ws/v1/`` and Binance's market streams.

``/ws/v1/`` comes first, so Binance's ``/ws/<streamName>`` never shadows it.
"""

from django.urls import re_path

from realtime.routing import websocket_urlpatterns as realtime_urlpatterns

from .consumers import BinanceStreamConsumer

websocket_urlpatterns: list = [
    *realtime_urlpatterns,
    re_path(r"^ws/?$", BinanceStreamConsumer.as_asgi()),
    re_path(r"^ws/(?P<names>[^?]{1,16000})$", BinanceStreamConsumer.as_asgi()),
    re_path(r"^stream/?$", BinanceStreamConsumer.as_asgi()),
]
