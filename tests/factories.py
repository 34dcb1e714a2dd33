"""Factories for the tests: real rows, no mocks.

Users, currencies and markets are made here. Orders, trades and withdrawals are made
here too when a test reads them (rendering, admin lists, market data); a test about
balances places orders and requests withdrawals through the services instead, so the
funds are locked and the ledger balances."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User
from markets.models import Currency, Market, Order, Trade
from wallets.models import Withdrawal

PASSWORD = "correct-horse-battery-42"
# The hash of PASSWORD for each hasher configuration, made once per process (see _Password).
_PASSWORD_HASHES: dict[tuple[str, ...], str] = {}


class _Password(factory.PostGenerationMethodCall):
    """``set_password``, with the hash of the shared PASSWORD computed once per hasher configuration.

    Every user of the suite has the same password, and PBKDF2 at production strength costs
    about 0.3 s of CPU per hash: hundreds of users per run. The hash is still a real one of
    the configured hasher, so the live processes check it the way they check any other.
    """

    def call(self, instance, step, context):
        raw = context.value if context.value_provided else self.method_arg
        if raw != PASSWORD:
            return super().call(instance, step, context)
        key = tuple(settings.PASSWORD_HASHERS)
        if key not in _PASSWORD_HASHES:
            _PASSWORD_HASHES[key] = make_password(PASSWORD)
        instance.password = _PASSWORD_HASHES[key]
        instance._password = PASSWORD  # as set_password leaves it: password validators hear of it on save
        return None


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"trader{n}@example.com")
    password = _Password("set_password", PASSWORD)

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


class OrderFactory(factory.django.DjangoModelFactory):
    """A limit buy row as stored, without locking its funds (``locked_amount`` is what it would lock)."""

    class Meta:
        model = Order

    market = factory.SubFactory(MarketFactory)
    user = factory.SubFactory(UserFactory, password=None)  # no hashing: these users never log in
    side = Order.Side.BUY
    type = Order.Type.LIMIT
    price = Decimal("100")
    quantity = Decimal("1")
    locked_amount = factory.LazyAttribute(
        lambda o: (o.price or 0) * (o.quantity or 0) if o.side == Order.Side.BUY else (o.quantity or 0)
    )


def _filled_order(trade, role: str) -> Order:
    """The trade's maker or taker order, filled by it alone."""
    taker_side = trade.taker_side
    side = taker_side if role == "taker" else (Order.Side.SELL if taker_side == Order.Side.BUY else Order.Side.BUY)
    return OrderFactory(
        market=trade.market,
        user=trade.taker_user if role == "taker" else trade.maker_user,
        side=side,
        price=trade.price,
        quantity=trade.quantity,
        filled_quantity=trade.quantity,
        filled_quote=trade.price * trade.quantity,
        locked_amount=Decimal(0),
        status=Order.Status.FILLED,
        sequence=trade.sequence,
        closed_sequence=trade.sequence,
    )


class TradeFactory(factory.django.DjangoModelFactory):
    """A trade between two filled limit orders as the matcher writes it, before settlement (no fees)."""

    class Meta:
        model = Trade

    market = factory.SubFactory(MarketFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    taker_side = Order.Side.BUY
    price = Decimal("100")
    quantity = Decimal("1")
    maker_user = factory.SubFactory(UserFactory, password=None)
    taker_user = factory.SubFactory(UserFactory, password=None)
    maker_order = factory.LazyAttribute(lambda t: _filled_order(t, "maker"))
    taker_order = factory.LazyAttribute(lambda t: _filled_order(t, "taker"))
    quote_quantity = factory.LazyAttribute(lambda t: t.price * t.quantity)
    maker_fee = Decimal(0)
    taker_fee = Decimal(0)
    created_at = factory.LazyFunction(timezone.now)


class WithdrawalFactory(factory.django.DjangoModelFactory):
    """A withdrawal row without its wallet lock; requests that move funds go through ``withdrawal_request``."""

    class Meta:
        model = Withdrawal

    user = factory.SubFactory(UserFactory, password=None)
    currency = factory.SubFactory(CurrencyFactory, code="BTC", name="Bitcoin")
    amount = Decimal("0.01")
    fee = Decimal("0.0005")
    address = factory.Sequence(lambda n: f"addr{n:08d}")


def run_matcher(market: Market) -> None:
    """Run the real matcher's batches in this process until it is idle (trades written, not settled)."""
    from matching.worker import MarketMatcher

    matcher = MarketMatcher(market.pk)
    while matcher.run_batch() is not None:
        pass


def match_and_settle(market: Market) -> None:
    """Trades the way production makes them: the real matcher, then settlement of all it committed."""
    from wallets.settlement import market_settle_all

    run_matcher(market)
    market_settle_all(market_id=market.pk)


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


# Orders in every shape a client can see, for the tests that compare renderings of them.
ORDER_VARIANTS = [
    {},
    {"client_order_id": "bot-1:x", "post_only": True},
    {"type": Order.Type.MARKET, "price": None, "time_in_force": Order.TimeInForce.IOC},
    {"type": Order.Type.MARKET, "price": None, "quantity": None, "quote_quantity": Decimal("250.5")},
    {
        "filled_quantity": Decimal("0.3"),
        "filled_quote": Decimal("30.123456"),
        "status": Order.Status.PARTIALLY_FILLED,
    },
    {
        "filled_quantity": Decimal("1"),
        "filled_quote": Decimal("100.5"),
        "status": Order.Status.FILLED,
        "closed_sequence": 9,
    },
    {"status": Order.Status.CANCELED, "cancel_reason": "user", "side": Order.Side.SELL},
    {"status": Order.Status.REJECTED, "reject_reason": "post_only_would_take"},
    {"self_trade_prevention": Order.SelfTradePrevention.CANCEL_BOTH, "price": Decimal("0.000001")},
]


def order_variant_fields(market: Market, variant: dict) -> dict:
    """An order row's fields: a funded limit buy of 1 at 100.10 on ``market``, changed by ``variant``."""
    return {
        "market": market,
        "user": UserFactory(),
        "side": Order.Side.BUY,
        "type": Order.Type.LIMIT,
        "price": Decimal("100.10"),
        "quantity": Decimal("1.000"),
        "locked_amount": Decimal("100.1"),
        **variant,
    }
