import logging
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from matching.runner import MatcherPool, run_loop
from realtime.routing import websocket_urlpatterns

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the whole exchange in one process for trying it out: the web server (HTTP + WebSocket), "
        "the matcher for every market and settlement (eager Celery). Same code paths as production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        from channels.routing import ProtocolTypeRouter, URLRouter
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from django.core.asgi import get_asgi_application

        if settings.REDIS_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stderr.write("REDIS_URL is set: settlement runs in the Celery worker, start it too.")
        try:
            pool = MatcherPool([], wait=False, log=self.stderr.write)
        except RuntimeError as exc:
            raise CommandError(f"{exc}: stop the other matcher first") from exc
        stop = threading.Event()

        def matcher() -> None:
            try:
                run_loop(pool, stop=stop)
            except Exception:  # logged; the web server keeps answering
                logger.exception("matcher thread stopped")

        thread = threading.Thread(target=matcher, name="matcher", daemon=True)
        thread.start()
        application = ProtocolTypeRouter(
            {"http": ASGIStaticFilesHandler(get_asgi_application()), "websocket": URLRouter(websocket_urlpatterns)}
        )
        host, port = options["host"], options["port"]
        self.stdout.write(
            f"Exchange running at http://{host}:{port}/  (API docs /api/v1/docs/, admin /admin/); "
            f"matching {len(pool.matchers)} market(s). Ctrl+C to stop."
        )
        try:
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
            ).run()
        finally:
            stop.set()
            thread.join(timeout=5)
            pool.release()
