"""Factories for the tests: real rows, no mocks."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory

from accounts.models import User
from markets.models import Currency, Market

PASSWORD = "correct-horse-battery-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"trader{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class CurrencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Currency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"C{n}")
    name = factory.LazyAttribute(lambda o: o.code)
    precision = 8
    withdrawal_fee = Decimal("0")
    min_withdrawal = Decimal("0")
    dual_approval_threshold = Decimal("1000000")
    min_confirmations = 2


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market
        django_get_or_create = ("symbol",)

    base = factory.SubFactory(CurrencyFactory, code="BTC", name="Bitcoin")
    quote = factory.SubFactory(CurrencyFactory, code="USDT", name="Tether USD", precision=6)
    symbol = factory.LazyAttribute(lambda o: f"{o.base.code}-{o.quote.code}")
    tick_size = Decimal("0.01")
    lot_size = Decimal("0.00001")
    min_qty = Decimal("0.00001")
    min_notional = Decimal("1")
    maker_fee = Decimal("0.001")
    taker_fee = Decimal("0.002")


def fund(user: User, currency: Currency, amount: Decimal | str, reference: str = "") -> None:
    """Credit a wallet the way custody does: a confirmed deposit notice, so audits balance."""
    from wallets.deposits import custody_deposit_notify, deposit_address_get

    address = deposit_address_get(user=user, currency=currency).address
    custody_deposit_notify(
        currency_code=currency.code,
        address=address,
        amount=Decimal(amount),
        txid=reference or f"test-{uuid.uuid4().hex}",
        confirmations=currency.min_confirmations,
    )
