import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from markets.models import Market
from matching.runner import MatcherPool, run_loop


class Command(BaseCommand):
    help = "Run the matching engine for some or all markets (one matcher per market at a time)."

    def add_arguments(self, parser):
        parser.add_argument("--market", action="append", default=[], help="Market symbol; repeat for several.")
        parser.add_argument("--no-wait", action="store_true", help="Exit instead of waiting when another matcher runs.")

    def handle(self, *args, **options):
        try:
            pool = MatcherPool(options["market"], wait=not options["no_wait"], log=self.stderr.write)
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        names = ", ".join(Market.objects.get(pk=m.market_id).symbol for m in pool.matchers) or "no market yet"
        self.stdout.write(f"matching {names}")
        self.stdout.flush()
        try:
            run_loop(pool, stop=stop)
        finally:
            pool.release()
