from celery import shared_task

from markets.models import Market

from .settlement import market_settle_all

# Acknowledged on receipt, not after running: every task here is idempotent and beat
# re-runs settlement every few seconds, so a task lost with its worker costs nothing.
# With late acks, a Redis outage while a task runs crashes the Celery worker
# (kombu tries to restore the unacknowledged message over the dead connection).
EARLY_ACK = {"acks_late": False}


@shared_task(**EARLY_ACK)
def settle_market(market_id: int) -> int:
    """Settle a market up to its last committed sequence; safe to run any number of times."""
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
