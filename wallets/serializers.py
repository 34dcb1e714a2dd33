"""Input and output shapes of the balances, ledger and deposit endpoints."""

from __future__ import annotations

from rest_framework import serializers

from exchange_site.fields import MoneyIn, MoneyOut, StrictCharField, StrictIntegerField

from .deposits import MAX_OUTPUT_INDEX

# PositiveIntegerField's range on every backend.
MAX_CONFIRMATIONS = 2_147_483_647


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = MoneyOut()
    locked = MoneyOut()
    available = MoneyOut()


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField(source="currency.code")
    kind = serializers.CharField()
    amount = MoneyOut()
    locked_change = MoneyOut()
    balance_after = MoneyOut()
    locked_after = MoneyOut()
    reference = serializers.CharField()
    time = serializers.DateTimeField(source="created_at")


class LedgerPageSerializer(serializers.Serializer):
    results = LedgerEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True)


class DepositSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField(source="currency.code")
    amount = MoneyOut()
    address = serializers.CharField()
    txid = serializers.CharField()
    output_index = serializers.IntegerField()
    status = serializers.CharField()
    confirmations = serializers.IntegerField()
    time = serializers.DateTimeField(source="created_at")
    credited_at = serializers.DateTimeField(allow_null=True)


class DepositPageSerializer(serializers.Serializer):
    results = DepositSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class DepositAddressSerializer(serializers.Serializer):
    currency = serializers.CharField(source="currency.code")
    address = serializers.CharField()


class CurrencyQuerySerializer(serializers.Serializer):
    currency = serializers.CharField(max_length=10)


class OptionalCurrencyQuerySerializer(serializers.Serializer):
    currency = serializers.CharField(max_length=10, required=False, allow_blank=True)


class CustodyDepositSerializer(serializers.Serializer):
    # Strict text: a JSON number is refused rather than recorded as a txid or an address.
    currency = StrictCharField(max_length=10)
    address = StrictCharField(max_length=128)
    amount = MoneyIn()
    txid = StrictCharField(max_length=128)
    confirmations = serializers.IntegerField(min_value=0, max_value=MAX_CONFIRMATIONS)
    output_index = StrictIntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_OUTPUT_INDEX,
        help_text="Which output of the transaction pays the address (default 0); "
        "deposits are idempotent by (currency, txid, output_index).",
    )


class PnlQuerySerializer(serializers.Serializer):
    market = serializers.CharField(max_length=64, required=False, allow_blank=True)


class PnlSerializer(serializers.Serializer):
    market = serializers.CharField(source="market.symbol")
    quote = serializers.CharField(source="market.quote.code")
    realized_pnl = MoneyOut()
    fees_paid_quote = MoneyOut()
    position = MoneyOut()
    average_cost = MoneyOut()
    updated_at = serializers.DateTimeField()
