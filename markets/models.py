from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from exchange_site.db import MoneyField


class Currency(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=64)
    precision = models.PositiveSmallIntegerField(default=8, help_text="Decimal places shown and accepted.")
    withdrawal_fee = MoneyField(default=Decimal(0))
    min_withdrawal = MoneyField(default=Decimal(0))
    dual_approval_threshold = MoneyField(default=Decimal(0), help_text="Withdrawals at or above need two approvers.")
    min_confirmations = models.PositiveIntegerField(default=1)
    deposits_enabled = models.BooleanField(default=True)
    withdrawals_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self) -> str:
        return self.code


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

    def __str__(self) -> str:
        return self.symbol


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Type(models.TextChoices):
        LIMIT = "limit"
        MARKET = "market"

    class TimeInForce(models.TextChoices):
        GTC = "GTC"
        IOC = "IOC"
        FOK = "FOK"

    class SelfTradePrevention(models.TextChoices):
        CANCEL_TAKER = "cancel_taker"
        CANCEL_MAKER = "cancel_maker"
        CANCEL_BOTH = "cancel_both"

    class Status(models.TextChoices):
        NEW = "new"
        OPEN = "open"
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        CANCELED = "canceled"
        REJECTED = "rejected"
        EXPIRED = "expired"

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PARTIALLY_FILLED)
    RESTING_STATUSES = (Status.OPEN, Status.PARTIALLY_FILLED)
    CLOSED_STATUSES = (Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED)

    # db_index=False: a composite index below starts with this column (one index less per write).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False)
    client_order_id = models.CharField(max_length=64, null=True, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    post_only = models.BooleanField(default=False)
    self_trade_prevention = models.CharField(
        max_length=12, choices=SelfTradePrevention.choices, default=SelfTradePrevention.CANCEL_TAKER
    )
    price = MoneyField(null=True, blank=True)
    quantity = MoneyField(null=True, blank=True)
    quote_quantity = MoneyField(null=True, blank=True)
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
