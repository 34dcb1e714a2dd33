"""ASGI entry point: HTTP through Django, WebSocket through Channels (``/ws/v1/``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_site.settings")
# Web processes share a PostgreSQL connection pool between their request threads
# (settings.DB_POOL_MAX); set DB_POOL_MAX=0 to open a connection per request instead.
os.environ.setdefault("DB_POOL_MAX", "10")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from markets.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})
