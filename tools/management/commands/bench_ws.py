"""``manage.py bench_ws``: the WebSocket fan-out benchmark (``tools.bench_ws``); prints one JSON line."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from tools import bench_ws
from tools.cli import stderr_log


class Command(BaseCommand):
    help = "WebSocket benchmark: N subscribers on trades:S and depth:S while orders arrive over REST."

    def add_arguments(self, parser: Any) -> None:
        bench_ws.add_arguments(parser)

    def handle(self, *args: Any, **opt: Any) -> None:
        self.stdout.write(json.dumps(bench_ws.run(opt, stderr_log(self, "[bench_ws] ")), separators=(",", ":")))
