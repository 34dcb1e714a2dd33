"""Print what the WebSocket pushes, one JSON frame per line: the README's "watch it" step.

python manage.py ws_watch --token "$TOKEN"                      # your orders, fills, balances + BTC-USDT trades
python manage.py ws_watch trades:ETH-USDT depth:ETH-USDT        # public channels need no token
python manage.py ws_watch --url ws://127.0.0.1:8001/ws/v1/ ...  # the ws process of bin/run --services
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

PRIVATE = ("orders", "fills", "balances")


class Command(BaseCommand):
    help = "Subscribe to WebSocket channels and print every frame (Ctrl-C to stop)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("channels", nargs="*", help="default: orders fills balances (with a token) trades:BTC-USDT")
        parser.add_argument("--url", default=os.environ.get("WS_URL", "ws://127.0.0.1:8000/ws/v1/"))
        parser.add_argument("--token", default=os.environ.get("TOKEN", ""), help="access token (default $TOKEN)")
        parser.add_argument("--count", type=int, default=0, help="stop after this many pushed frames")
        parser.add_argument("--seconds", type=float, default=0, help="stop after this many seconds")

    def handle(self, *args: Any, channels: list[str], url: str, token: str, count: int, seconds: float, **o: Any):
        channels = channels or [*(PRIVATE if token else ()), "trades:BTC-USDT"]
        try:
            asyncio.run(self._watch(url, token, channels, count, seconds or None))
        except KeyboardInterrupt:
            pass
        except (OSError, TimeoutError) as exc:
            raise CommandError(f"{url}: {exc}") from exc

    async def _watch(self, url: str, token: str, channels: list[str], count: int, seconds: float | None) -> None:
        import websockets

        async def run() -> None:
            async with websockets.connect(url) as ws:
                if token:
                    await ws.send(json.dumps({"op": "auth", "token": token}))
                    self._print(await ws.recv())
                await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
                self._print(await ws.recv())
                pushed = 0
                async for frame in ws:
                    self._print(frame)
                    pushed += 1
                    if count and pushed >= count:
                        return

        try:
            await asyncio.wait_for(run(), timeout=seconds)
        except TimeoutError:
            if seconds is None:
                raise

    def _print(self, frame: str | bytes) -> None:
        text = frame.decode() if isinstance(frame, bytes) else frame
        self.stdout.write(text)
        sys.stdout.flush()
