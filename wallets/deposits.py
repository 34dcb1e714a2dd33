"""Deposit services: per-user deposit addresses and the custody notification.

A custody notice is idempotent by (currency, txid, output_index): one transaction may pay
several deposit addresses, and each of its outputs is a deposit of its own. The first
notice of an output records a pending deposit, later ones update its confirmations, and
the wallet is credited exactly once, in the same transaction, when the confirmations
reach the currency's minimum.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from exchange_site.errors import Conflict, DomainError
from exchange_site.money import fmt
from markets.models import Currency

from .models import Deposit, DepositAddress, LedgerEntry
from .selectors import currency_get
from .services import BalanceChange, wallet_apply_changes

ADDRESS_ATTEMPTS = 5
# Far above the outputs any chain fits in one transaction; keeps the index a 32-bit value.
MAX_OUTPUT_INDEX = 1_000_000


class DepositsDisabled(DomainError):
    code = "deposits_disabled"
    message = "Deposits are disabled for this currency."


class UnknownAddress(DomainError):
    code = "unknown_address"
    message = "No user owns this deposit address."


def _new_address(currency: Currency) -> str:
    # Placeholder until a custody provider allocates real addresses: unguessable and unique.
    return f"{currency.code.lower()}1{secrets.token_hex(20)}"


def deposit_address_get(*, user: User, currency: Currency) -> DepositAddress:
    """Return the user's address for ``currency``, allocating it on the first ask.

    Two concurrent first asks both try to insert; the unique constraint on
    (user, currency) lets one win and the other reads the winner's row.
    """
    if not currency.deposits_enabled:
        raise DepositsDisabled(details={"currency": currency.code})
    existing = DepositAddress.objects.filter(user=user, currency=currency).first()
    if existing is not None:
        return existing
    for _ in range(ADDRESS_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                return DepositAddress.objects.create(user=user, currency=currency, address=_new_address(currency))
        except IntegrityError:
            existing = DepositAddress.objects.filter(user=user, currency=currency).first()
            if existing is not None:
                return existing
            # Otherwise the random address collided with another one: draw again.
    raise RuntimeError("could not allocate a unique deposit address")


def custody_deposit_notify(
    *, currency_code: str, address: str, amount: Decimal, txid: str, confirmations: int, output_index: int = 0
) -> Deposit:
    """Record or update a custody deposit notice and credit the wallet once it is confirmed.

    Raises ``DomainError`` (400) for an unknown currency, ``DepositsDisabled``,
    ``UnknownAddress``, and ``Conflict`` (409) when a known output (txid, output_index)
    arrives with another amount or address.
    """
    currency = currency_get(code=currency_code)
    if not currency.deposits_enabled:
        raise DepositsDisabled(details={"currency": currency.code})
    if (
        amount <= 0
        or confirmations < 0
        or not txid
        or not address
        or isinstance(output_index, bool)
        or not 0 <= output_index <= MAX_OUTPUT_INDEX
    ):
        raise DomainError("Invalid deposit notice.", code="validation_error")

    with transaction.atomic(durable=True):
        deposit = (
            Deposit.objects.select_for_update().filter(currency=currency, txid=txid, output_index=output_index).first()
        )
        if deposit is None:
            deposit = _deposit_create(
                currency=currency,
                address=address,
                amount=amount,
                txid=txid,
                output_index=output_index,
                confirmations=confirmations,
            )
        if deposit.amount != amount or deposit.address != address:
            raise Conflict(
                "This output (txid, output_index) is already known with a different amount or address.",
                details={
                    "txid": txid,
                    "output_index": output_index,
                    "amount": fmt(deposit.amount),
                    "address": deposit.address,
                },
            )
        changed: list[str] = []
        # Notices may arrive out of order; confirmations only ever grow.
        if confirmations > deposit.confirmations:
            deposit.confirmations = confirmations
            changed.append("confirmations")
        if deposit.status == Deposit.Status.PENDING and deposit.confirmations >= currency.min_confirmations:
            wallet_apply_changes(
                changes=[
                    BalanceChange(
                        user_id=deposit.user_id,
                        currency_id=currency.pk,
                        kind=LedgerEntry.Kind.DEPOSIT,
                        amount=deposit.amount,
                        reference=f"deposit:{deposit.pk}",
                    )
                ]
            )
            deposit.status = Deposit.Status.CREDITED
            deposit.credited_at = timezone.now()
            changed += ["status", "credited_at"]
        if changed:
            deposit.save(update_fields=changed)
    deposit.currency = currency
    return deposit


def _deposit_create(
    *, currency: Currency, address: str, amount: Decimal, txid: str, output_index: int, confirmations: int
) -> Deposit:
    """Insert the pending deposit, or lock the row a concurrent first notice just inserted."""
    owner_id = (
        DepositAddress.objects.filter(currency=currency, address=address).values_list("user_id", flat=True).first()
    )
    if owner_id is None:
        raise UnknownAddress(details={"address": address[:128]})
    try:
        with transaction.atomic():
            deposit = Deposit.objects.create(
                user_id=owner_id,
                currency=currency,
                address=address,
                amount=amount,
                txid=txid,
                output_index=output_index,
                confirmations=confirmations,
                status=Deposit.Status.PENDING,
                source=Deposit.Source.CUSTODY,
            )
    except IntegrityError:
        # The other notice committed first (the insert waited for it): use its row, locked.
        return Deposit.objects.select_for_update().get(currency=currency, txid=txid, output_index=output_index)
    return deposit
