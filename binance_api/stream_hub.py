"""Per ws process: Binance streams made once from the realtime hub's frames and written to every subscriber.

The realtime hub (``realtime.hub``) already reads each market-data message once per
process. For every ``/ws/v1/`` channel some Binance stream needs (``trades:S``,
``depth:S``, ``ticker:S``) this hub puts one *tap* among the realtime hub's
members; the tap gets the channel's frames once, turns them into Binance payloads
once (``binance_api.streams``), and the same bytes go to every socket on the stream
(one encoding for the raw endpoint, one for the combined envelope), through the
realtime hub's write rounds. Tickers and klines are re-read from the database at
most once a second per market, only when the market traded or its ticker changed
(or a kline's interval rolled over), never per socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async

from markets.models import Market
from realtime.frames import public_group, ws_frame
from realtime.hub import hub as realtime_hub

from .stream_book import LocalBook, book_snapshot, book_ticker, partial_depth
from .streams import (
    BOOK,
    POLLED,
    StreamSpec,
    depth_payloads,
    dumps,
    envelope,
    kline_open_ms,
    polled_payloads,
    trade_payloads,
)

if TYPE_CHECKING:
    from .consumers import BinanceStreamConsumer

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class _Tap:
    """This process's Binance streams of one ``/ws/v1/`` channel, as one member of the realtime hub.

    It has no daphne socket (``proto`` None), so the realtime hub hands it each message's
    texts through ``_send_texts``, once per message.
    """

    proto = None
    cohort = None

    def __init__(self, owner: StreamHub, market: Market, source: str) -> None:
        self.owner = owner
        self.market = market
        self.source = source
        self.channel = f"{source}:{market.symbol}"
        self.group = public_group(source, market.pk)

    async def _send_texts(self, texts: list[str]) -> None:
        await self.owner.frames(self, texts)


@dataclass
class _Stream:
    spec: StreamSpec
    market: Market
    members: dict[BinanceStreamConsumer, None] = field(default_factory=dict)


class StreamHub:
    """The process's Binance streams: who listens to which, the taps feeding them, the poller."""

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}
        # (market id, v1 kind) -> the tap, and the streams it feeds.
        self.taps: dict[tuple[int, str], _Tap] = {}
        self.fed: dict[tuple[int, str], dict[str, _Stream]] = {}
        # Polled streams (tickers, klines) per market; markets due for a re-read.
        self.polled: dict[int, dict[str, _Stream]] = {}
        self.dirty: set[int] = set()
        self.kline_opened: dict[str, int] = {}
        # Per market with book streams: its book, kept from the depth diffs.
        self.books: dict[int, LocalBook] = {}
        self.poller: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def add(self, consumer: BinanceStreamConsumer, spec: StreamSpec, market: Market) -> None:
        """Return once ``spec``'s events reach ``consumer``."""
        async with self.lock:
            stream = self.streams.get(spec.name)
            if stream is None:
                key = (market.pk, spec.source)
                if key not in self.taps:
                    tap = _Tap(self, market, spec.source)
                    await realtime_hub().join(tap.group, tap)
                    realtime_hub().route(tap.channel, tap, add=True)
                    self.taps[key] = tap
                stream = self.streams[spec.name] = _Stream(spec, market)
                self.fed.setdefault(key, {})[spec.name] = stream
                if spec.kind in POLLED:
                    self.polled.setdefault(market.pk, {})[spec.name] = stream
                    if self.poller is None or self.poller.done():
                        self.poller = asyncio.create_task(self._poll())
            stream.members[consumer] = None
            if spec.kind in POLLED:
                self.dirty.add(market.pk)  # a first event within a second, even on a quiet market
            book = self.books.get(market.pk) if spec.kind in BOOK else None
            if spec.kind in BOOK and book is None:
                book = self.books[market.pk] = LocalBook()
                self._load(market, book)
            elif book is not None and book.ready:
                # The current top at once; later ones when it changes.
                await self.send(stream, [_book_payload(book, spec)], only=consumer)

    async def remove(self, consumer: BinanceStreamConsumer, name: str) -> None:
        async with self.lock:
            stream = self.streams.get(name)
            if stream is None:
                return
            stream.members.pop(consumer, None)
            if stream.members:
                return
            del self.streams[name]
            market_id = stream.market.pk
            if stream.spec.kind in BOOK and not any(
                s.spec.kind in BOOK for s in self.fed.get((market_id, "depth"), {}).values() if s is not stream
            ):
                self.books.pop(market_id, None)
            polled = self.polled.get(market_id)
            if polled is not None:
                polled.pop(name, None)
                self.kline_opened.pop(name, None)
                if not polled:
                    del self.polled[market_id]
            key = (market_id, stream.spec.source)
            fed = self.fed[key]
            del fed[name]
            if fed:
                return
            del self.fed[key]
            tap = self.taps.pop(key)
            realtime_hub().route(tap.channel, tap, add=False)
            await realtime_hub().leave(tap.group, tap)

    # -- frames from the realtime hub ----------------------------------------------------
    async def frames(self, tap: _Tap, texts: list[str]) -> None:
        streams = list(self.fed.get((tap.market.pk, tap.source), {}).values())
        if tap.source == "ticker" or any(s.spec.kind == "kline" for s in streams):
            self.dirty.add(tap.market.pk)
        if tap.source == "depth" and tap.market.pk in self.books:
            await self._book_frames(tap.market, texts, [s for s in streams if s.spec.kind in BOOK])
        direct = [s for s in streams if s.spec.kind not in POLLED and s.spec.kind not in BOOK]
        if not direct:
            return
        symbol = direct[0].spec.symbol
        payloads = trade_payloads(symbol, texts) if tap.source == "trades" else depth_payloads(symbol, texts)
        for stream in direct:
            await self.send(stream, payloads)

    async def send(self, stream: _Stream, payloads: list[str], *, only: BinanceStreamConsumer | None = None) -> None:
        """Encode the payloads once per form (raw, combined) and write the same bytes to each member."""
        raw: bytes | None = None
        wrapped: list[str] | None = None
        combined: bytes | None = None
        for consumer in list(stream.members) if only is None else [only]:
            if consumer.combined:
                if combined is None:
                    wrapped = [envelope(stream.spec.name, p) for p in payloads]
                    combined = b"".join(ws_frame(t) for t in wrapped)
                pending = consumer.push(combined, wrapped)
            else:
                if raw is None:
                    raw = b"".join(ws_frame(p) for p in payloads)
                pending = consumer.push(raw, payloads)
            if pending is not None:
                try:
                    await pending
                except Exception:
                    logger.exception("sending to a WebSocket failed")

    # -- the local book: bookTicker, depth<levels> -------------------------------------------
    def _load(self, market: Market, book: LocalBook) -> None:
        if not book.loading:
            book.loading = True
            asyncio.create_task(self._load_book(market, book))

    async def _load_book(self, market: Market, book: LocalBook) -> None:
        try:
            for _ in range(10):
                snapshot = await database_sync_to_async(book_snapshot)(market)
                if self.books.get(market.pk) is not book:
                    return
                if book.reset(snapshot):
                    break
                await asyncio.sleep(0.1)  # the snapshot predates the diffs received: read it again
            else:
                logger.warning("could not sync the book of %s for its Binance streams", market.symbol)
                return
        except Exception:
            logger.exception("loading the book of %s failed", market.symbol)
            return
        finally:
            book.loading = False
        await self._book_send(market, book)

    async def _book_frames(self, market: Market, texts: list[str], streams: list[_Stream]) -> None:
        book = self.books[market.pk]
        diffs = [json.loads(text)["data"] for text in texts]
        if not book.ready:
            book.buffer.extend(diffs)
            self._load(market, book)
            return
        for diff in diffs:
            if not book.apply(diff):
                book.sequence, book.buffer = None, []  # a gap: start again from a snapshot
                self._load(market, book)
                return
        await self._book_send(market, book, streams)

    async def _book_send(self, market: Market, book: LocalBook, streams: list[_Stream] | None = None) -> None:
        if streams is None:
            streams = [s for s in self.fed.get((market.pk, "depth"), {}).values() if s.spec.kind in BOOK]
        for stream in streams:
            payload = _book_payload(book, stream.spec)
            if stream.spec.kind == "bookTicker":
                # Sent when the best bid or ask changed, as Binance does.
                shown = payload[payload.index(",") :]  # without the update id
                if book.sent.get(stream.spec.name) == shown:
                    continue
                book.sent[stream.spec.name] = shown
            await self.send(stream, [payload])

    # -- tickers and klines --------------------------------------------------------------
    async def _poll(self) -> None:
        while self.polled:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self._poll_once()
            except Exception:
                logger.exception("reading Binance ticker and kline streams failed")

    async def _poll_once(self) -> None:
        now_ms = int(time.time() * 1000)
        due = set(self.dirty)
        self.dirty.clear()
        for market_id, streams in self.polled.items():
            for stream in streams.values():
                spec = stream.spec
                if spec.kind == "kline" and self.kline_opened.get(spec.name) != _opened(spec, now_ms):
                    due.add(market_id)
        for market_id in due:
            streams = dict(self.polled.get(market_id, {}))
            if not streams:
                continue
            first = next(iter(streams.values()))
            specs = [s.spec for s in streams.values()]
            payloads = await database_sync_to_async(polled_payloads)(first.market, first.spec.symbol, specs)
            for name, stream in streams.items():
                if stream.spec.kind == "kline":
                    self.kline_opened[name] = _opened(stream.spec, now_ms)
            for name, payload in payloads.items():
                await self.send(streams[name], [payload])


def _book_payload(book: LocalBook, spec: StreamSpec) -> str:
    if spec.kind == "bookTicker":
        return dumps(book_ticker(book, spec.symbol))
    return dumps(partial_depth(book, spec.levels))


def _opened(spec: StreamSpec, now_ms: int) -> int:
    return kline_open_ms(spec.interval, datetime.fromtimestamp(now_ms / 1000, tz=UTC))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamHub] = weakref.WeakKeyDictionary()


def stream_hub() -> StreamHub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = StreamHub()
    return found
