from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

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

    # db_index=False: a composite index below starts with this column (one index less per write).
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries", db_index=False)
    # ``user`` and ``currency`` copy the wallet's (for the per-user listing index), so the
    # database checks only the wallet reference: each foreign key costs a trigger call per
    # inserted entry (three were most of PostgreSQL's cost of a settlement COPY), and the
    # wallet row names an existing user and currency by its own constraints. The audit
    # checks that every entry names its wallet's user and currency (invariant 4). No
    # index on currency alone: no query filters the ledger by currency only.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    currency = models.ForeignKey(
        "markets.Currency", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
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
    # One transaction may pay several deposit addresses: each output is its own deposit.
    output_index = models.PositiveIntegerField(default=0)
    confirmations = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CUSTODY)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "txid", "output_index"], name="deposit_unique_currency_txid_output"
            )
        ]

    def __str__(self) -> str:
        return f"deposit {self.txid}:{self.output_index}"


class SettlementCursor(models.Model):
    """How far settlement has applied a market's matcher output (exactly-once cursor)."""

    market = models.OneToOneField("markets.Market", on_delete=models.CASCADE, related_name="settlement")
    settled_sequence = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_id}@{self.settled_sequence}"


class Withdrawal(models.Model):
    """A user's request to send funds out; reviewed by back-office staff (four eyes).

    ``amount + fee`` stays locked in the user's wallet from the request until the
    withdrawal is completed (the funds leave), rejected or canceled (they are unlocked).
    """

    class Status(models.TextChoices):
        REQUESTED = "requested"
        PENDING_REVIEW = "pending_review"
        APPROVED = "approved"
        COMPLETED = "completed"
        REJECTED = "rejected"
        CANCELED = "canceled"

    # Statuses in which ``amount + fee`` is locked in the user's wallet.
    HOLDING_STATUSES = (Status.REQUESTED, Status.PENDING_REVIEW, Status.APPROVED)
    FINAL_STATUSES = (Status.COMPLETED, Status.REJECTED, Status.CANCELED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    amount = MoneyField(help_text="Sent to the address; the fee comes on top.")
    fee = MoneyField(default=Decimal(0))
    address = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    required_approvals = models.PositiveSmallIntegerField(
        default=1, help_text="Distinct approvers needed, fixed at request time from the dual-approval threshold."
    )
    txid = models.CharField(max_length=128, blank=True, default="", help_text="Payout transaction, once sent.")
    reason = models.TextField(blank=True, default="", help_text="Why it was rejected or canceled.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="withdrawal_status_created"),
            models.Index(fields=["user", "id"], name="withdrawal_user_id"),
            # The rolling 24-hour sums of the tier limits and the dual-approval threshold.
            models.Index(fields=["user", "created_at"], name="withdrawal_user_created"),
        ]
        # Rows change only through the services; no generic add/change/delete right exists.
        default_permissions = ("view",)
        permissions = [
            ("approve_withdrawal", "Can approve, reject and mark withdrawals sent"),
            ("export_csv", "Can export any back-office list to CSV"),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk}"

    @property
    def locked_total(self) -> Decimal:
        return self.amount + self.fee


class WithdrawalEvent(models.Model):
    """Append-only history of a withdrawal: every transition and every approval, never edited."""

    class Action(models.TextChoices):
        REQUEST = "request"
        SUBMIT = "submit"
        APPROVE = "approve"
        REJECT = "reject"
        CANCEL = "cancel"
        MARK_SENT = "mark_sent"

    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for steps the system took by itself.",
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["withdrawal", "id"], name="withdrawal_event_wd_id")]
        default_permissions = ("view",)
        constraints = [
            # One approval per person per withdrawal, whatever the application code does.
            models.UniqueConstraint(
                fields=["withdrawal", "actor"],
                condition=Q(action="approve"),
                name="withdrawal_event_one_approval_per_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status or '-'} -> {self.to_status}"


class ManualDeposit(models.Model):
    """A credit without a custody notice: proposed by one staff member, approved by another.

    Only the approval credits the wallet, through a ``Deposit`` with source ``manual``.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="manual_deposits")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()
    reason = models.TextField(help_text="Why the credit is due (ticket, bank reference, ...).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, default="")
    deposit = models.OneToOneField(
        Deposit, on_delete=models.PROTECT, null=True, blank=True, related_name="manual_deposit"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "proposed_at"], name="manual_deposit_status")]
        default_permissions = ("view",)
        permissions = [
            ("propose_manual_deposit", "Can propose a manual deposit"),
            ("approve_manual_deposit", "Can approve or reject a manual deposit proposed by someone else"),
        ]

    def __str__(self) -> str:
        return f"manual deposit {self.pk}"


class Incident(models.Model):
    """A breach found by the periodic ledger audit: recorded, acted on, never silently repaired."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    kind = models.CharField(max_length=32, default="ledger_breach")
    currency = models.ForeignKey(
        "markets.Currency", on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=255)
    details = models.JSONField(default=list, help_text="The breaches as the audit reported them.")
    actions = models.JSONField(default=list, help_text="What the watch did: markets halted, withdrawals held.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [("resolve_incident", "Can resolve a ledger incident")]
        indexes = [models.Index(fields=["status", "currency"], name="incident_status_currency")]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.summary}"


class TraderPnl(models.Model):
    """A trader's realized PnL in one market (average cost, quote currency), kept by settlement.

    Written only by ``wallets.settlement`` (through ``wallets.pnl``) in the transaction
    that books the trades; ``wallets.pnl.pnl_replay`` recomputes it from the trade log.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="+")
    position = MoneyField(default=Decimal(0), help_text="Net base bought (negative: more sold than bought here).")
    cost_basis = MoneyField(default=Decimal(0), help_text="Cost of the open position, signed like it.")
    average_cost = MoneyField(default=Decimal(0), help_text="cost_basis / position, rounded; for display.")
    realized_pnl = MoneyField(default=Decimal(0))
    fees_paid_quote = MoneyField(default=Decimal(0))
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["user_id", "market_id"]
        verbose_name = "realized PnL"
        verbose_name_plural = "realized PnL"
        default_permissions = ("view",)
        constraints = [models.UniqueConstraint(fields=["user", "market"], name="trader_pnl_unique_user_market")]

    def __str__(self) -> str:
        return f"PnL {self.user_id}:{self.market_id}"


class WithdrawalAddress(models.Model):
    """An address the owner whitelisted for one currency; usable once its cool-down has passed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="withdrawal_addresses")
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128)
    label = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    usable_from = models.DateTimeField(help_text="Creation time plus the cool-down in force when it was added.")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "whitelisted withdrawal addresses"
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["user", "currency", "address"], name="withdrawal_address_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.label})" if self.label else self.address


class WithdrawalWhitelist(models.Model):
    """An account's whitelist switch: ``enabled`` is what the owner asked for, from ``effective_from``.

    Switching on takes effect at once; switching off only after the cool-down, so a thief
    holding the password and the phone cannot turn the whitelist off and withdraw at once.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="withdrawal_whitelist")
    enabled = models.BooleanField(default=False)
    effective_from = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"whitelist of {self.user_id}: {'on' if self.enabled else 'off'} from {self.effective_from}"


class TierLimit(models.Model):
    """What accounts of a tier may withdraw in any 24 hours (rules: wallets/withdrawal_controls.py).

    The row of the reference currency (``WITHDRAWAL_LIMIT_REFERENCE_CURRENCY``) caps the
    combined value of every currency that has a price in it; any other row caps its own
    currency, in its own units.
    """

    tier = models.PositiveSmallIntegerField()
    currency = models.ForeignKey("markets.Currency", on_delete=models.PROTECT, related_name="+")
    limit_24h = MoneyField(help_text="Rolling 24-hour limit, in this row's currency (0: no withdrawals).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "currency__code"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "currency"], name="tier_limit_unique_tier_currency"),
            models.CheckConstraint(condition=GreaterThanOrEqual(_num("limit_24h"), 0), name="tier_limit_nonnegative"),
        ]
        permissions = [("set_account_tier", "Can set an account's verification tier")]

    def __str__(self) -> str:
        return f"tier {self.tier} {self.currency_id}"
