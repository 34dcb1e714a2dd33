"""The owner's withdrawal address whitelist: add (password + one-time password), remove, switch on or off.

A new address is usable only after the cool-down (``WITHDRAWAL_ADDRESS_COOLDOWN_HOURS``);
switching the whitelist on is immediate, switching it off waits the same cool-down. The
owner is told by email when an address is added (``NoticeDue`` after commit). Whether a
withdrawal may use an address is decided in ``wallets.withdrawal_controls``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import two_factor_enabled
from accounts.services import InvalidOtp, OtpRequired, otp_verify, password_verify
from exchange_site.api import iso_time
from exchange_site.errors import Conflict, DomainError, InvalidInput, NotFound, clean_text
from exchange_site.events import NoticeDue, NoticeKind, announce_on_commit
from markets.models import Currency

from .models import WithdrawalAddress, WithdrawalWhitelist
from .withdrawal_controls import cooldown, whitelist_in_force
from .withdrawals import _ADDRESS

MAX_ADDRESSES = 200
MAX_LABEL = 64


class AddressAlreadyWhitelisted(Conflict):
    code = "address_already_whitelisted"
    message = "This address is already on the whitelist for this currency."


class TooManyAddresses(DomainError):
    code = "too_many_addresses"
    message = f"The whitelist holds at most {MAX_ADDRESSES} addresses; remove one first."


def identity_confirm(*, user: User, password: str, otp: str | None) -> None:
    """The password, and the one-time password when 2FA is on (as for creating an API key).

    Call before opening the caller's transaction: a failed code is recorded for throttling.
    """
    password_verify(user=user, password=password)
    if two_factor_enabled(user=user):
        if otp is None or not str(otp).strip():
            raise OtpRequired()
        if not otp_verify(user=user, otp=str(otp)):
            raise InvalidOtp()


def _lock_user(user: User) -> None:
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True).first()


def withdrawal_address_add(
    *, user: User, currency: Currency, address: str, label: str, password: str, otp: str | None
) -> WithdrawalAddress:
    """Whitelist ``address`` for ``currency``; usable after the cool-down; the owner is notified."""
    address = (address or "").strip()
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput.field("address", "address is not a valid withdrawal address.")
    label = clean_text(label, name="label", required=False, max_length=MAX_LABEL)
    if not label.isprintable():
        raise InvalidInput.field("label", "label must not contain control characters.")
    identity_confirm(user=user, password=password, otp=otp)
    with transaction.atomic(durable=True):
        # One account's additions one after the other: the duplicate and count checks are exact.
        _lock_user(user)
        mine = WithdrawalAddress.objects.filter(user=user)
        if mine.filter(currency=currency, address=address).exists():
            raise AddressAlreadyWhitelisted(details={"currency": currency.code, "address": address})
        if mine.count() >= MAX_ADDRESSES:
            raise TooManyAddresses()
        now = timezone.now()
        entry = WithdrawalAddress.objects.create(
            user=user, currency=currency, address=address, label=label, created_at=now, usable_from=now + cooldown()
        )
        announce_on_commit(
            NoticeDue(
                user_id=user.pk,
                kind=NoticeKind.WHITELIST_ADDRESS_ADDED,
                details={
                    "currency": currency.code,
                    "address": address,
                    "label": label,
                    "usable_from": iso_time(entry.usable_from) or "",
                },
            )
        )
    return entry


def withdrawal_address_remove(*, user: User, address_id: int) -> None:
    """Take an address off the whitelist, at once."""
    with transaction.atomic(durable=True):
        deleted, _ = WithdrawalAddress.objects.filter(pk=address_id, user=user).delete()
    if not deleted:
        raise NotFound("Withdrawal address not found.")


@dataclass(frozen=True, slots=True)
class WhitelistState:
    whitelist_enabled: bool
    effective_from: datetime | None
    in_force: bool


def withdrawal_whitelist_state(*, user: User, now: datetime | None = None) -> WhitelistState:
    """What the owner asked for, from when, and whether withdrawals are held to the whitelist now."""
    row = WithdrawalWhitelist.objects.filter(user=user).first()
    if row is None:
        return WhitelistState(whitelist_enabled=False, effective_from=None, in_force=False)
    in_force = whitelist_in_force(enabled=row.enabled, effective_from=row.effective_from, now=now or timezone.now())
    return WhitelistState(whitelist_enabled=row.enabled, effective_from=row.effective_from, in_force=in_force)


def withdrawal_whitelist_set(*, user: User, enabled: bool, password: str, otp: str | None) -> WhitelistState:
    """Switch on (immediately) or off (after the cool-down); asking for the current state changes nothing."""
    identity_confirm(user=user, password=password, otp=otp)
    with transaction.atomic(durable=True):
        _lock_user(user)
        row = WithdrawalWhitelist.objects.filter(user=user).first()
        now = timezone.now()
        if row is None:
            # Never switched on: switching off has nothing to wait for.
            if enabled:
                WithdrawalWhitelist.objects.create(user=user, enabled=True, effective_from=now)
        elif row.enabled != enabled:
            row.enabled = enabled
            row.effective_from = now if enabled else now + cooldown()
            row.save(update_fields=["enabled", "effective_from", "updated_at"])
    return withdrawal_whitelist_state(user=user)
