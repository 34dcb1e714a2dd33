import json

from django.core.management.base import BaseCommand

from tools.bench_pipeline import bench_pipeline
from tools.cli import stderr_log


class Command(BaseCommand):
    help = "Drain a backlog of crossing orders through the real matcher and settlement processes; prints one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=50_000, help="Backlog per market.")
        parser.add_argument("--markets", type=int, default=1, help="Markets, one matcher process each.")
        parser.add_argument("--traders", type=int, default=100)
        parser.add_argument("--concurrency", type=int, default=None, help="Settlement worker processes.")

    def handle(self, *args, **options):
        result = bench_pipeline(
            orders=options["orders"],
            markets=options["markets"],
            traders=options["traders"],
            concurrency=options["concurrency"],
            log=stderr_log(self, ""),
        )
        self.stdout.write(json.dumps(result))
