import logging

from celery import shared_task
from django.core.cache import cache

from markets.models import Market

from .settlement import market_settle_all

# Acknowledged on receipt, not after running: every task here is idempotent and beat
# re-runs settlement every few seconds, so a task lost with its worker costs nothing.
# With late acks, a Redis outage while a task runs crashes the Celery worker
# (kombu tries to restore the unacknowledged message over the dead connection).
EARLY_ACK = {"acks_late": False}
# A queued settle_market covers every batch committed before it starts, so while one
# waits in the queue the matcher sends no other (one task per burst, not per batch).
PENDING_KEY = "settle-pending:{}"
PENDING_SECONDS = 5  # a task lost with its worker stops holding back new ones after this

logger = logging.getLogger(__name__)


def settle_market_soon(market_id: int) -> bool:
    """Queue settlement of a market unless a queued run will already cover what just committed.

    Returns whether it queued one. A caller that got False should call again later
    (the matcher does when idle): the queued run may have been lost with its worker.
    """
    try:
        queued = not cache.add(PENDING_KEY.format(market_id), 1, timeout=PENDING_SECONDS)
    except Exception as exc:  # noqa: BLE001 - without the cache, queue one every time
        logger.warning("settlement coalescing unavailable: %s", exc)
        queued = False
    if queued:
        return False
    settle_market.delay(market_id)
    return True


@shared_task(**EARLY_ACK)
def settle_market(market_id: int) -> int:
    """Settle a market up to its last committed sequence; safe to run any number of times."""
    try:
        # Before reading the cursor: a batch committed after this line queues a new run.
        cache.delete(PENDING_KEY.format(market_id))
    except Exception as exc:  # noqa: BLE001 - the key expires by itself
        logger.warning("settlement coalescing unavailable: %s", exc)
    return market_settle_all(market_id=market_id)


@shared_task(**EARLY_ACK)
def settle_all_markets() -> None:
    """Safety net for lost triggers: settle every market that is behind."""
    for market_id in Market.objects.values_list("id", flat=True):
        market_settle_all(market_id=market_id)


@shared_task(**EARLY_ACK)
def watch_ledger() -> bool:
    """Periodic ledger audit; a breach opens an incident, halts markets and holds withdrawals."""
    from .incidents import ledger_watch

    return ledger_watch().ok
