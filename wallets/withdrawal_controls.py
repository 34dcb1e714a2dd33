"""The checks a withdrawal request passes before funds are locked: the address whitelist and the tier limits.

Whitelist: with the account's whitelist in force, a withdrawal goes only to an address
the owner whitelisted for that currency, once its cool-down has passed
(``address_not_whitelisted``, ``address_cooling_down``). The whitelist is in force while
it is switched on, and after it was switched off until the cool-down has passed.

Tier limits, the exact rule:

- A withdrawal counts for 24 hours from its request, unless it was rejected or canceled
  (requested, pending review, approved and completed ones count); its amount counts, not
  its fee.
- The ``TierLimit`` rows of the account's tier are caps. The row of the reference currency
  (``WITHDRAWAL_LIMIT_REFERENCE_CURRENCY``, USDT by default) caps the combined value of the
  withdrawals of the reference currency itself and of every currency that has a price in
  it: the last trade price of its market CUR-REF, applied to the whole window at the time
  of the check. Any other row caps its own currency, in its own units (priced or not).
- A withdrawal must fit under every cap that covers it; ``withdrawal_limit_exceeded``
  names the cap's currency and its ``remaining`` amount in that currency. A currency no cap
  covers is not limited by tier (the review and dual approval still apply).
- The dual-approval threshold compares the currency's rolling 24-hour sum, the new
  amount included, so splitting a withdrawal does not avoid the second approver.

The binding check runs in the request's transaction after locking the user's row, so two
requests of one account are checked one after the other and cannot pass a limit together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from exchange_site.api import iso_time
from exchange_site.errors import DomainError
from exchange_site.money import fmt
from markets.models import Currency, Market, Trade

from .models import TierLimit, Withdrawal, WithdrawalAddress, WithdrawalWhitelist

ZERO = Decimal(0)
ONE = Decimal(1)
WINDOW = timedelta(hours=24)
_NOT_COUNTING = (Withdrawal.Status.REJECTED, Withdrawal.Status.CANCELED)
COUNTING_STATUSES = tuple(s for s in Withdrawal.Status if s not in _NOT_COUNTING)
# Enough digits for an exact product of two money amounts and sums of them.
EXACT = 80


class AddressNotWhitelisted(DomainError):
    code = "address_not_whitelisted"
    message = "The withdrawal whitelist is on and this address is not on it for this currency."


class AddressCoolingDown(DomainError):
    code = "address_cooling_down"
    message = "This whitelisted address is not usable until its cool-down has passed."


class WithdrawalLimitExceeded(DomainError):
    code = "withdrawal_limit_exceeded"
    message = "The withdrawal would exceed the account's 24-hour withdrawal limit."


def cooldown() -> timedelta:
    return timedelta(hours=settings.WITHDRAWAL_ADDRESS_COOLDOWN_HOURS)


def whitelist_in_force(*, enabled: bool, effective_from: datetime, now: datetime) -> bool:
    """On, or switched off less than a cool-down ago."""
    return enabled or now < effective_from


def _check_whitelist(user_id: int, currency: Currency, address: str, now: datetime) -> None:
    row = WithdrawalWhitelist.objects.filter(user_id=user_id).values_list("enabled", "effective_from").first()
    if row is None or not whitelist_in_force(enabled=row[0], effective_from=row[1], now=now):
        return
    usable_from = (
        WithdrawalAddress.objects.filter(user_id=user_id, currency=currency, address=address)
        .values_list("usable_from", flat=True)
        .first()
    )
    if usable_from is None:
        raise AddressNotWhitelisted(details={"currency": currency.code, "address": address})
    if usable_from > now:
        raise AddressCoolingDown(details={"currency": currency.code, "usable_from": iso_time(usable_from)})


# -- tier limits ----------------------------------------------------------------------------


@dataclass(slots=True)
class Cap:
    """One ``TierLimit`` row and what the last 24 hours used of it, in ``currency``'s units."""

    currency: Currency
    limit_24h: Decimal
    # currency id -> value of one unit of it in this cap's currency (the currencies it covers)
    rates: dict[int, Decimal] = field(default_factory=dict)
    used_24h: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.limit_24h - self.used_24h)

    def value(self, currency_id: int, amount: Decimal) -> Decimal:
        with localcontext(prec=EXACT):
            return amount * self.rates[currency_id]


def reference_prices() -> dict[int, Decimal]:
    """Currency id -> its last trade price in the reference currency (the reference itself: 1)."""
    reference = Currency.objects.filter(code=settings.WITHDRAWAL_LIMIT_REFERENCE_CURRENCY).first()
    if reference is None:
        return {}
    last = Trade.objects.filter(market=OuterRef("pk")).order_by("-sequence").values("price")[:1]
    markets = Market.objects.filter(quote=reference).annotate(last=Subquery(last)).values_list("base_id", "last")
    # A Subquery over a money column may come back as text on SQLite.
    prices = {base_id: Decimal(price) for base_id, price in markets if price is not None}
    prices[reference.pk] = ONE
    return prices


def _used_by_currency(user_id: int, now: datetime) -> dict[int, Decimal]:
    # Summed here, exactly: SQLite would sum money stored as text in floating point.
    rows = Withdrawal.objects.filter(
        user_id=user_id, created_at__gt=now - WINDOW, status__in=COUNTING_STATUSES
    ).values_list("currency_id", "amount")
    used: dict[int, Decimal] = defaultdict(Decimal)
    for currency_id, amount in rows:
        used[currency_id] += amount
    return used


def withdrawal_caps(
    *, user_id: int, tier: int, now: datetime | None = None, used: dict[int, Decimal] | None = None
) -> list[Cap]:
    """The caps of ``tier`` with what ``user_id`` used of each in the 24 hours before ``now``.

    ``used``: the account's counting withdrawals per currency, when the caller has them.
    """
    rows = list(TierLimit.objects.filter(tier=tier).select_related("currency").order_by("currency__code"))
    if not rows:
        return []
    if used is None:
        used = _used_by_currency(user_id, now or timezone.now())
    reference = settings.WITHDRAWAL_LIMIT_REFERENCE_CURRENCY
    prices = reference_prices() if any(r.currency.code == reference for r in rows) else {}
    caps = []
    for row in rows:
        rates = prices if row.currency.code == reference else {row.currency_id: ONE}
        cap = Cap(currency=row.currency, limit_24h=row.limit_24h, rates=rates)
        with localcontext(prec=EXACT):
            cap.used_24h = sum((cap.value(cid, amount) for cid, amount in used.items() if cid in rates), ZERO)
        caps.append(cap)
    return caps


def _check_limits(user_id: int, tier: int, currency: Currency, amount: Decimal, used: dict[int, Decimal]) -> None:
    for cap in withdrawal_caps(user_id=user_id, tier=tier, used=used):
        if currency.pk in cap.rates and cap.value(currency.pk, amount) > cap.remaining:
            raise WithdrawalLimitExceeded(
                details={
                    "currency": cap.currency.code,
                    "limit_24h": fmt(cap.limit_24h),
                    "used_24h": fmt(cap.used_24h),
                    "remaining": fmt(cap.remaining),
                }
            )


def withdrawal_controls_check(
    *, user: User, currency: Currency, amount: Decimal, address: str, lock: bool = False
) -> Decimal:
    """Refuse a withdrawal the whitelist or the tier limits forbid; return its rolling 24-hour sum.

    ``lock``: inside the request's transaction, lock the user's row first (and read the
    tier under it), so concurrent requests of one account are checked one after the other.
    FOR NO KEY UPDATE: rows that merely reference the user (new orders) are not held up.
    """
    users = User.objects.filter(pk=user.pk)
    if lock:
        users = users.select_for_update(no_key=True)
    tier = users.values_list("tier", flat=True).first() or 0
    now = timezone.now()
    _check_whitelist(user.pk, currency, address, now)
    used = _used_by_currency(user.pk, now)
    _check_limits(user.pk, tier, currency, amount, used)
    # The currency's counting withdrawals of the last 24 hours plus this one: the dual-approval threshold's figure.
    return used.get(currency.pk, ZERO) + amount


@dataclass(frozen=True, slots=True)
class LimitsView:
    """What GET /api/v1/withdrawal-limits shows: the tier, its caps and the codes each cap covers."""

    tier: int
    reference_currency: str
    caps: list[Cap]
    covers: dict[int, list[str]]  # cap currency id -> codes of the currencies it counts


def withdrawal_limits_get(*, user: User) -> LimitsView:
    """The account's tier and, per cap of it, the limit, what the last 24 hours used and what remains."""
    tier = User.objects.filter(pk=user.pk).values_list("tier", flat=True).first() or 0
    caps = withdrawal_caps(user_id=user.pk, tier=tier)
    ids = {cid for cap in caps for cid in cap.rates}
    codes = dict(Currency.objects.filter(pk__in=ids).values_list("pk", "code")) if ids else {}
    covers = {cap.currency.pk: sorted(codes[cid] for cid in cap.rates if cid in codes) for cap in caps}
    return LimitsView(
        tier=tier, reference_currency=settings.WITHDRAWAL_LIMIT_REFERENCE_CURRENCY, caps=caps, covers=covers
    )
