"""What the real-time tier listens to: the domain events, turned into publisher jobs.

Subscribed in ``RealtimeConfig.ready()``. Each handler only snapshots what it needs
and queues it for the publisher thread (``realtime.publisher``), so a slow channel
layer or client never delays the matcher or a request.
"""

from __future__ import annotations

from django.utils import timezone

from exchange_site import events
from exchange_site.events import BatchCommitted, OrderPlaced, Stage, TradesSettled, WalletsChanged

from .frames import epoch_ms, order_values
from .jobs import BatchJob, PrivateJob, SettlementJob
from .publisher import publisher


def batch_publish(event: BatchCommitted) -> None:
    """A committed batch: queue its trades, depth diff, tickers and the changed orders."""
    market = event.market
    publisher().submit(
        BatchJob(
            market_id=market.pk,
            symbol=market.symbol,
            tick_size=market.tick_size,
            lot_size=market.lot_size,
            first_sequence=event.first_sequence,
            sequence=event.sequence,
            event_time=epoch_ms(event.committed_at or timezone.now()),
            trades=list(event.trades),
            orders=[order_values(order) for order in event.orders],
            bids=event.depth_bids,
            asks=event.depth_asks,
        )
    )


def settlement_publish(event: TradesSettled) -> None:
    """A settlement run: queue the fills and the balances it changed."""
    publisher().submit(
        SettlementJob(
            market_id=event.market_id,
            event_time=epoch_ms(timezone.now()),
            trades=list(event.trades),
            wallet_ids=list(event.wallet_ids),
        )
    )


def wallets_publish(event: WalletsChanged) -> None:
    """Any other committed balance change: queue the balances of the changed wallets.

    Only the ids are queued; the publisher reads the rows when it sends, so the last
    publish of a wallet carries its newest committed balance.
    """
    publisher().submit(PrivateJob(event_time=epoch_ms(timezone.now()), wallet_ids=list(event.wallet_ids)))


def order_publish(event: OrderPlaced) -> None:
    """A new order: queue it for its owner's ``orders`` channel."""
    publisher().submit(PrivateJob(event_time=epoch_ms(timezone.now()), orders=[order_values(event.order)]))


def subscribe() -> None:
    """Listen to the events the pushes are made of (``RealtimeConfig.ready``).

    Stage ``PUSH``: after the market-data ticker is prepared in memory, before the
    matcher's wake-up (a new order's own frame is queued ahead of the matcher's) and
    the cache writes.
    """
    events.subscribe(BatchCommitted, batch_publish, stage=Stage.PUSH)
    events.subscribe(TradesSettled, settlement_publish, stage=Stage.PUSH)
    events.subscribe(WalletsChanged, wallets_publish, stage=Stage.PUSH)
    events.subscribe(OrderPlaced, order_publish, stage=Stage.PUSH)
