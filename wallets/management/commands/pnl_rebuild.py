"""Recompute realized PnL from the trade log: check it (exit 1 on a difference) or rebuild it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from markets.models import Market
from wallets.pnl import pnl_differences, pnl_rebuild


class Command(BaseCommand):
    help = "Replay every market's settled trades into realized PnL: --check compares, otherwise rebuilds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--market", help="Only this market symbol.")
        parser.add_argument("--check", action="store_true", help="Compare only; exit 1 when a figure differs.")

    def handle(self, *args: Any, **options: Any) -> None:
        markets = Market.objects.order_by("symbol")
        if options["market"]:
            markets = markets.filter(symbol=options["market"])
            if not markets.exists():
                raise CommandError(f"Unknown market {options['market']!r}.")
        differing = 0
        for market in markets:
            if options["check"]:
                users = pnl_differences(market_id=market.pk)
                differing += len(users)
                state = f"{len(users)} traders differ {users[:20]}" if users else "agrees with the trade log"
                self.stdout.write(f"{market.symbol}: {state}")
            else:
                rows = pnl_rebuild(market_id=market.pk, at=timezone.now())
                self.stdout.write(f"{market.symbol}: {rows} traders rebuilt")
        if differing:
            raise CommandError(f"{differing} stored PnL rows differ from the trade log.", returncode=1)
