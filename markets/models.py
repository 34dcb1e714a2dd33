from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual

from exchange_site.db import MoneyField

# The database refuses any fee rate above this whatever the settings say: a rate of 1 or
# more leaves a side nothing (or less than nothing) to receive and stalls settlement.
FEE_HARD_CAP = Decimal("0.1")


def _num(name: str) -> Cast:
    # Compare numerically on every backend (SQLite stores money as text).
    return Cast(F(name), output_field=models.DecimalField(max_digits=36, decimal_places=18))


def within_precision(value: Decimal, places: int) -> bool:
    """True when ``value`` has at most ``places`` decimal places."""
    try:
        with localcontext(prec=80):
            return value == value.quantize(Decimal(1).scaleb(-places))
    except (InvalidOperation, TypeError):
        return False


def _finite(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


class Currency(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=64)
    precision = models.PositiveSmallIntegerField(default=8, help_text="Decimal places shown and accepted.")
    withdrawal_fee = MoneyField(default=Decimal(0))
    min_withdrawal = MoneyField(default=Decimal(0))
    dual_approval_threshold = MoneyField(
        # The smallest positive amount: until staff set a threshold every withdrawal needs two approvers.
        default=settings.MONEY_QUANTUM,
        help_text="Withdrawals at or above need two approvers (greater than zero).",
    )
    min_confirmations = models.PositiveIntegerField(default=1)
    deposits_enabled = models.BooleanField(default=True)
    withdrawals_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"
        constraints = [
            models.CheckConstraint(
                condition=GreaterThanOrEqual(_num("withdrawal_fee"), 0), name="currency_withdrawal_fee_nonnegative"
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(_num("min_withdrawal"), 0), name="currency_min_withdrawal_nonnegative"
            ),
            models.CheckConstraint(
                condition=GreaterThan(_num("dual_approval_threshold"), 0), name="currency_dual_threshold_positive"
            ),
            models.CheckConstraint(condition=Q(min_confirmations__gte=1), name="currency_min_confirmations_ge_1"),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        """Refuse settings that switch a money control off (run by the settings services)."""
        errors: dict[str, str] = {}
        places = self.precision
        for name in ("withdrawal_fee", "min_withdrawal"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                errors[name] = "Must be zero or more."
            elif places is not None and not within_precision(value, places):
                errors[name] = f"At most {places} decimal places (the currency's precision)."
        threshold = self.dual_approval_threshold
        if not _finite(threshold) or threshold <= 0:
            errors["dual_approval_threshold"] = "Must be greater than zero."
        if self.min_confirmations is None or self.min_confirmations < 1:
            errors["min_confirmations"] = "At least one confirmation."
        if places is not None and not 0 <= places <= settings.MONEY_DECIMAL_PLACES:
            errors["precision"] = f"Between 0 and {settings.MONEY_DECIMAL_PLACES}."
        if errors:
            raise ValidationError(errors)


class Market(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        HALTED = "halted"

    symbol = models.CharField(max_length=21, unique=True)
    base = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="base_markets")
    quote = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="quote_markets")
    tick_size = MoneyField()
    lot_size = MoneyField()
    min_qty = MoneyField(default=Decimal(0))
    min_notional = MoneyField(default=Decimal(0))
    maker_fee = MoneyField(default=Decimal("0.001"))
    taker_fee = MoneyField(default=Decimal("0.002"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # Written only by the matcher, in the transaction of each batch.
    last_sequence = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=GreaterThan(_num("tick_size"), 0), name="market_tick_size_positive"),
            models.CheckConstraint(condition=GreaterThan(_num("lot_size"), 0), name="market_lot_size_positive"),
            models.CheckConstraint(condition=GreaterThanOrEqual(_num("min_qty"), 0), name="market_min_qty_nonnegative"),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(_num("min_notional"), 0), name="market_min_notional_nonnegative"
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(_num("maker_fee"), 0) & LessThanOrEqual(_num("maker_fee"), FEE_HARD_CAP),
                name="market_maker_fee_range",
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(_num("taker_fee"), 0) & LessThanOrEqual(_num("taker_fee"), FEE_HARD_CAP),
                name="market_taker_fee_range",
            ),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="market_base_ne_quote"),
        ]

    def __str__(self) -> str:
        return self.symbol

    def clean(self) -> None:
        """Refuse filters and fees the matcher and settlement cannot work with."""
        errors: dict[str, str] = {}
        cap = min(settings.MAX_TRADING_FEE, FEE_HARD_CAP)
        for name in ("maker_fee", "taker_fee"):
            value = getattr(self, name)
            if not _finite(value) or not 0 <= value <= cap:
                errors[name] = f"Must be between 0 and {cap.normalize():f} (MAX_TRADING_FEE)."
        base = self.base if self.base_id else None
        quote = self.quote if self.quote_id else None
        for name, currency in (("tick_size", quote), ("lot_size", base)):
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                errors[name] = "Must be greater than zero."
            elif currency is not None and not within_precision(value, currency.precision):
                errors[name] = f"At most {currency.precision} decimal places ({currency.code}'s precision)."
        for name in ("min_qty", "min_notional"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                errors[name] = "Must be zero or more."
        if base is not None and base == quote:
            errors["quote"] = "Base and quote must differ."
        if errors:
            raise ValidationError(errors)


class OrderList(models.Model):
    """Orders that live and die together: an OCO pair (a limit leg and a stop leg sharing one lock)."""

    class Kind(models.TextChoices):
        OCO = "oco"

    class Status(models.TextChoices):
        ACTIVE = "active"
        DONE = "done"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="order_lists")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="order_lists")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.OCO)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    client_order_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_list_unique_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} list {self.pk}"


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Type(models.TextChoices):
        LIMIT = "limit"
        MARKET = "market"
        STOP_LIMIT = "stop_limit"
        STOP_MARKET = "stop_market"

    class TimeInForce(models.TextChoices):
        GTC = "GTC"
        IOC = "IOC"
        FOK = "FOK"
        GTD = "GTD"

    class SelfTradePrevention(models.TextChoices):
        CANCEL_TAKER = "cancel_taker"
        CANCEL_MAKER = "cancel_maker"
        CANCEL_BOTH = "cancel_both"

    class Status(models.TextChoices):
        NEW = "new"
        UNTRIGGERED = "untriggered"
        OPEN = "open"
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        CANCELED = "canceled"
        REJECTED = "rejected"
        EXPIRED = "expired"

    # Untriggered stops are open: listed with the open orders, cancelable, and holding their lock.
    OPEN_STATUSES = (Status.NEW, Status.UNTRIGGERED, Status.OPEN, Status.PARTIALLY_FILLED)
    RESTING_STATUSES = (Status.OPEN, Status.PARTIALLY_FILLED)
    # In the matcher's book: resting, or waiting outside it as a stop.
    IN_ENGINE_STATUSES = (Status.UNTRIGGERED, Status.OPEN, Status.PARTIALLY_FILLED)
    CLOSED_STATUSES = (Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED)

    # db_index=False: a composite index below starts with this column (one index less per write).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False)
    client_order_id = models.CharField(max_length=64, null=True, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=11, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    post_only = models.BooleanField(default=False)
    self_trade_prevention = models.CharField(
        max_length=12, choices=SelfTradePrevention.choices, default=SelfTradePrevention.CANCEL_TAKER
    )
    price = MoneyField(null=True, blank=True)
    quantity = MoneyField(null=True, blank=True)
    quote_quantity = MoneyField(null=True, blank=True)
    # Stop orders wait outside the book until the last trade price crosses this.
    stop_price = MoneyField(null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    # The trader accepts a stop that triggers on arrival (else it is refused: stop_would_trigger).
    trigger_immediately = models.BooleanField(default=False)
    # GTD: the matcher expires the order at this time.
    expire_time = models.DateTimeField(null=True, blank=True)
    order_list = models.ForeignKey("OrderList", on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    amended_at = models.DateTimeField(null=True, blank=True)
    # A pending amend (the matcher's command, like cancel_requested_at): new total quantity
    # and/or price. The matcher applies it in sequence and clears amend_requested_at.
    amend_quantity = MoneyField(null=True, blank=True)
    amend_price = MoneyField(null=True, blank=True)
    amend_requested_at = models.DateTimeField(null=True, blank=True)
    filled_quantity = MoneyField(default=Decimal(0))
    filled_quote = MoneyField(default=Decimal(0))
    # Funds reserved at placement (quote for buys, base for sells); what the order did
    # not consume is released when it closes.
    locked_amount = MoneyField(default=Decimal(0))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    reject_reason = models.CharField(max_length=32, blank=True, default="")
    cancel_reason = models.CharField(max_length=32, blank=True, default="")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Sequence of the matcher command that admitted / closed the order.
    sequence = models.BigIntegerField(null=True, blank=True)
    closed_sequence = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_unique_client_order_id",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "status"], name="order_market_status"),
            models.Index(fields=["market", "closed_sequence"], name="order_market_closed_seq"),
            models.Index(fields=["user", "market", "status"], name="order_user_market_status"),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.side} {self.market_id}"

    @property
    def remaining_quantity(self) -> Decimal | None:
        if self.quantity is None:
            return None
        return self.quantity - self.filled_quantity


class Trade(models.Model):
    # db_index=False: a composite index below starts with this column (one index less per write).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades", db_index=False)
    sequence = models.BigIntegerField(help_text="Sequence of the matcher command that produced it.")
    maker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="maker_trades")
    taker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="taker_trades")
    maker_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    taker_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    taker_side = models.CharField(max_length=4, choices=Order.Side.choices)
    price = MoneyField()
    quantity = MoneyField()
    quote_quantity = MoneyField()
    # Fees are taken from what each side receives: the buyer pays in base, the seller in quote.
    maker_fee = MoneyField()
    taker_fee = MoneyField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["market", "sequence"], name="trade_market_seq"),
            models.Index(fields=["market", "created_at"], name="trade_market_time"),
            models.Index(fields=["maker_user", "market"], name="trade_maker_user"),
            models.Index(fields=["taker_user", "market"], name="trade_taker_user"),
        ]

    def __str__(self) -> str:
        return f"trade {self.pk} {self.market_id}@{self.sequence}"


class Candle(models.Model):
    """One-minute OHLCV, written by the matcher in the batch that made the trades."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="candles")
    open_time = models.DateTimeField()
    open = MoneyField()
    high = MoneyField()
    low = MoneyField()
    close = MoneyField()
    volume = MoneyField()
    quote_volume = MoneyField()
    trade_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["market", "open_time"]
        constraints = [models.UniqueConstraint(fields=["market", "open_time"], name="candle_unique_minute")]

    def __str__(self) -> str:
        return f"{self.market_id} {self.open_time:%Y-%m-%d %H:%M}"


class BookSnapshot(models.Model):
    """Top of the book as of ``sequence``, written by the matcher in each batch's transaction.

    The REST depth endpoint serves this row, so it always reflects committed state and
    carries the sequence a WebSocket client needs to sync its diffs.
    """

    market = models.OneToOneField(Market, on_delete=models.CASCADE, related_name="book_snapshot")
    sequence = models.BigIntegerField(default=0)
    bids = models.JSONField(default=list, help_text="[[price, qty], ...] best first, decimal strings")
    asks = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"book {self.market_id}@{self.sequence}"


_ONE_TARGET = (Q(currency__isnull=False) & Q(market__isnull=True)) | (
    Q(currency__isnull=True) & Q(market__isnull=False)
)


class SettingProposal(models.Model):
    """A change that weakens a money control, waiting for a second staff member.

    Proposed by one person; applied only when a different person approves it, or closed
    when someone rejects it (the proposer may withdraw it that way).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        REJECTED = "rejected"

    currency = models.ForeignKey(
        Currency, on_delete=models.PROTECT, null=True, blank=True, related_name="setting_proposals"
    )
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, null=True, blank=True, related_name="setting_proposals"
    )
    field = models.CharField(max_length=32)
    before = models.TextField(blank=True, default="", help_text="The value when it was proposed.")
    after = models.TextField(blank=True, default="")
    reason = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [("approve_settingproposal", "Can approve or reject a proposed settings change")]
        indexes = [models.Index(fields=["status", "id"], name="setting_proposal_status")]
        constraints = [
            models.CheckConstraint(condition=_ONE_TARGET, name="setting_proposal_one_target"),
            # Four eyes, whatever the application code does.
            models.CheckConstraint(
                condition=~Q(status="applied") | ~Q(decided_by=F("proposed_by")), name="setting_proposal_no_self_apply"
            ),
            models.UniqueConstraint(
                fields=["currency", "field"], condition=Q(status="pending"), name="setting_proposal_one_pending_cur"
            ),
            models.UniqueConstraint(
                fields=["market", "field"], condition=Q(status="pending"), name="setting_proposal_one_pending_mkt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.field}: {self.before} -> {self.after} ({self.status})"

    @property
    def target(self) -> Currency | Market | None:
        return self.currency if self.currency_id else self.market


class SettingChange(models.Model):
    """Append-only history of currency and market settings: who did what to which field, when, why."""

    class Action(models.TextChoices):
        CREATE = "create"
        CHANGE = "change"
        PROPOSE = "propose"
        APPROVE = "approve"
        REJECT = "reject"

    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    proposal = models.ForeignKey(
        SettingProposal, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for steps the system took by itself (the ledger watch).",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    field = models.CharField(max_length=32, blank=True, default="")
    before = models.TextField(blank=True, default="")
    after = models.TextField(blank=True, default="")
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["currency", "id"], name="setting_change_currency"),
            models.Index(fields=["market", "id"], name="setting_change_market"),
        ]
        constraints = [
            models.CheckConstraint(condition=_ONE_TARGET, name="setting_change_one_target"),
        ]

    def __str__(self) -> str:
        target = self.currency_id and f"currency {self.currency_id}" or f"market {self.market_id}"
        return f"{self.action} {target} {self.field}: {self.before} -> {self.after}"
