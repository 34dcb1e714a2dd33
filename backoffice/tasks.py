from celery import shared_task

from .freezes import frozen_orders_cancel


@shared_task(acks_late=False)
def frozen_orders_sweep(user_id: int) -> int:
    """Cancel open orders of a trading-frozen account again (one placed while the freeze committed); idempotent."""
    return frozen_orders_cancel(user_id=user_id)
