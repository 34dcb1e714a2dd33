"""ASGI entry point: the ``ws`` process (daphne): WebSocket ``/ws/v1/`` and Binance's ``/ws``, ``/stream``.

It answers HTTP too (``runexchange``, health checks), but REST is served by the
``web`` process (granian, exchange_site/web.py) in production.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_site.settings")
# daphne runs each request and consumer call in a thread of its own: they share a
# PostgreSQL connection pool (settings.DB_POOL_MAX) instead of opening a connection
# each; set DB_POOL_MAX=0 to open a connection per request instead.
os.environ.setdefault("DB_POOL_MAX", "10")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from binance_api.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})
