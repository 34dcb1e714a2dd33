"""Drive the real matcher and settlement in-process, the way the worker processes do."""

from __future__ import annotations

from decimal import Decimal

from markets.models import Market
from matching.worker import MarketMatcher
from wallets.models import Wallet
from wallets.settlement import market_settle_all


def match_and_settle(market: Market) -> None:
    """Run matcher batches until idle, then settle everything they committed."""
    matcher = MarketMatcher(market.pk)
    while matcher.run_batch() is not None:
        pass
    market_settle_all(market_id=market.pk)


def balance(user, currency) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.filter(user=user, currency=currency).first()
    if wallet is None:
        return Decimal(0), Decimal(0)
    return wallet.balance, wallet.locked
