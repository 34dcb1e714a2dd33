from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from exchange_site.db import MoneyField


def _num(name: str) -> Cast:
    # Compare numerically on every backend (SQLite stores money as text).
    return Cast(F(name), output_field=models.DecimalField(max_digits=36, decimal_places=18))


class Wallet(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallets")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="wallets")
    balance = MoneyField(default=Decimal(0))
    locked = MoneyField(default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "currency"], name="wallet_unique_user_currency"),
            models.CheckConstraint(condition=GreaterThanOrEqual(_num("locked"), 0), name="wallet_locked_nonnegative"),
            models.CheckConstraint(
                condition=LessThanOrEqual(_num("locked"), _num("balance")), name="wallet_locked_le_balance"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.currency_id}"

    @property
    def available(self) -> Decimal:
        return self.balance - self.locked


class LedgerEntry(models.Model):
    """Append-only record of every change to a wallet's balance or locked amount."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL_LOCK = "withdrawal_lock"
        WITHDRAWAL_UNLOCK = "withdrawal_unlock"
        WITHDRAWAL = "withdrawal"
        WITHDRAWAL_FEE = "withdrawal_fee"
        ORDER_LOCK = "order_lock"
        ORDER_RELEASE = "order_release"
        TRADE = "trade"
        TRADE_FEE = "trade_fee"
        FEE_INCOME = "fee_income"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = MoneyField(help_text="Change of balance.")
    locked_change = MoneyField(default=Decimal(0))
    balance_after = MoneyField()
    locked_after = MoneyField()
    reference = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["user", "currency"], name="ledger_user_currency"),
            models.Index(fields=["wallet", "id"], name="ledger_wallet_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference})"


class DepositAddress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposit_addresses")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "currency"], name="deposit_address_unique")]

    def __str__(self) -> str:
        return self.address


class Deposit(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CREDITED = "credited"

    class Source(models.TextChoices):
        CUSTODY = "custody"
        MANUAL = "manual"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128, blank=True, default="")
    amount = MoneyField()
    txid = models.CharField(max_length=128)
    confirmations = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CUSTODY)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["currency", "txid"], name="deposit_unique_currency_txid")]

    def __str__(self) -> str:
        return f"deposit {self.txid}"


class SettlementCursor(models.Model):
    """How far settlement has applied a market's matcher output (exactly-once cursor)."""

    market = models.OneToOneField("markets.Market", on_delete=models.CASCADE, related_name="settlement")
    settled_sequence = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_id}@{self.settled_sequence}"
