"""WSGI entry point: the ``web`` process (granian, started by exchange_site/web.py).

REST, the admin and the OpenAPI pages are served here by worker threads that each
keep their PostgreSQL connection (settings ``CONN_MAX_AGE``); WebSockets go to the
``ws`` process (daphne, exchange_site/asgi.py).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_site.settings")

application = get_wsgi_application()
