"""Builders for the withdrawal-control tests: a whitelist, cooled-down addresses, prices, tier limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from markets.models import Currency
from tests.factories import PASSWORD, CurrencyFactory, MarketFactory, TradeFactory
from tests.otp import fresh_otp
from wallets.models import TierLimit, WithdrawalAddress, WithdrawalWhitelist
from wallets.whitelist import withdrawal_address_add, withdrawal_whitelist_set
from wallets.withdrawals import withdrawal_request

ADDRESS = "bc1qexampleaddress0001"
OTHER_ADDRESS = "bc1qexampleaddress0002"


def btc_currency() -> Currency:
    """Fee 0.0005, minimum 0.001, two approvers from 1 BTC."""
    return CurrencyFactory(
        code="BTC",
        name="Bitcoin",
        precision=8,
        withdrawal_fee=Decimal("0.0005"),
        min_withdrawal=Decimal("0.001"),
        dual_approval_threshold=Decimal("1"),
    )


def whitelist(user, enabled: bool = True):
    return withdrawal_whitelist_set(user=user, enabled=enabled, password=PASSWORD, otp=fresh_otp(user))


def add_address(user, currency: Currency, address: str = ADDRESS, *, cooled: bool = True) -> WithdrawalAddress:
    entry = withdrawal_address_add(
        user=user, currency=currency, address=address, label="cold wallet", password=PASSWORD, otp=fresh_otp(user)
    )
    if cooled:
        cool_down_passed(entry)
    return entry


def cool_down_passed(entry: WithdrawalAddress) -> None:
    """Move the address's cool-down into the past (the clock cannot be waited out in a test)."""
    WithdrawalAddress.objects.filter(pk=entry.pk).update(usable_from=timezone.now() - timedelta(seconds=1))


def switch_off_passed(user) -> None:
    WithdrawalWhitelist.objects.filter(user=user).update(effective_from=timezone.now() - timedelta(seconds=1))


def withdraw(user, currency: Currency, amount: str, address: str = ADDRESS):
    return withdrawal_request(
        user=user, currency=currency, amount=Decimal(amount), address=address, otp=fresh_otp(user)
    )


def price(base: Currency, quote: Currency, value: str) -> None:
    """A last trade of ``value`` on the market base-quote."""
    market = MarketFactory(base=base, quote=quote, symbol=f"{base.code}-{quote.code}")
    TradeFactory(market=market, price=Decimal(value))


def limit(tier: int, currency: Currency, amount: str) -> TierLimit:
    return TierLimit.objects.create(tier=tier, currency=currency, limit_24h=Decimal(amount))
