import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from matching.runner import acquire_locks, resolve_markets, run_loop


class Command(BaseCommand):
    help = "Run the matching engine for some or all markets (one matcher per market at a time)."

    def add_arguments(self, parser):
        parser.add_argument("--market", action="append", default=[], help="Market symbol; repeat for several.")
        parser.add_argument("--no-wait", action="store_true", help="Exit instead of waiting when another matcher runs.")

    def handle(self, *args, **options):
        try:
            markets = resolve_markets(options["market"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not markets:
            raise CommandError("no markets to match (run seed_demo or create one in the admin)")
        try:
            locks = acquire_locks(markets, wait=not options["no_wait"], log=self.stderr.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"matching {', '.join(m.symbol for m in markets)}", ending="\n")
        self.stdout.flush()
        try:
            run_loop(markets, stop=stop)
        finally:
            for lock in locks:
                lock.release()
