"""The lean order-body check gives exactly what ``OrderPlaceIn`` gives, or steps aside.

``trading.fastpath.order_body_valid`` may accept a body only if the serializer accepts it
with the same values; every other body (and so every error answer) goes through the
serializer. Checked against the serializer on generated bodies, valid and hostile.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trading.fastpath import order_body_valid
from trading.serializers import OrderPlaceIn

# Every field the serializer (the reference) knows, the new order types' included.
KEYS = list(OrderPlaceIn().fields)
AMOUNTS = st.one_of(
    st.none(),
    st.sampled_from(["1", "0.1", "100.00", "0", "-1", "1e3", "1_000", " 1", "1.0000000000000000001", "", "NaN", "١"]),
    st.integers(min_value=-10, max_value=10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=20),
    st.floats(allow_nan=True),
    st.booleans(),
    st.just([]),
)
TEXT = st.one_of(st.text(max_size=70), st.sampled_from(["BTC-USDT", "buy", "sell", "limit", "market", "GTC", "IOC"]))
VALUES = {
    "market": st.one_of(TEXT, st.sampled_from(["BTC-USDT", " BTC-USDT", "BTC-USDT\n", "x" * 22]), st.integers()),
    "side": st.one_of(st.sampled_from(["buy", "sell", "BUY", "", None, 1, True]), TEXT),
    "type": st.one_of(st.sampled_from(["limit", "market", "stop", None, 0]), TEXT),
    "price": AMOUNTS,
    "quantity": AMOUNTS,
    "quote_quantity": AMOUNTS,
    "time_in_force": st.sampled_from(["GTC", "IOC", "FOK", "gtc", None, "", 1]),
    "post_only": st.sampled_from([True, False, "true", 1, 0, None, "no"]),
    "client_order_id": st.one_of(
        st.sampled_from(["a-1", "x" * 64, "x" * 65, "", " a", "a\n", "a b", None, 7]), st.text(max_size=66)
    ),
    "self_trade_prevention": st.one_of(
        st.sampled_from(["cancel_taker", "cancel_maker", "cancel_both", "none", None, ""]), TEXT
    ),
}
BODIES = st.one_of(
    st.fixed_dictionaries({}, optional=VALUES),
    st.fixed_dictionaries(
        {k: VALUES[k] for k in ("market", "side", "type")},
        optional={k: v for k, v in VALUES.items() if k not in ("market", "side", "type")},
    ),
    st.fixed_dictionaries(
        {"market": st.just("BTC-USDT"), "side": st.sampled_from(["buy", "sell"]), "type": st.just("limit")},
        optional={"price": AMOUNTS, "quantity": AMOUNTS, "client_order_id": VALUES["client_order_id"]},
    ),
    st.builds(
        lambda extra: {"market": "BTC-USDT", "side": "buy", "type": "limit", **extra},
        st.dictionaries(TEXT, TEXT),
    ),
    st.one_of(st.none(), st.lists(st.integers()), st.text()),
)


def _same(body: object) -> None:
    fast = order_body_valid(body)
    if fast is None:
        return
    serializer = OrderPlaceIn(data=body)
    assert serializer.is_valid(), (body, serializer.errors)
    slow = {key: serializer.validated_data.get(key) for key in KEYS}
    assert fast == slow
    for key in ("price", "quantity", "quote_quantity"):
        assert type(fast[key]) is type(slow[key])
        if isinstance(fast[key], Decimal):
            assert fast[key].as_tuple() == slow[key].as_tuple()


@settings(max_examples=600, deadline=None)
@given(BODIES)
def test_the_lean_check_accepts_only_what_the_serializer_accepts_with_the_same_values(body):
    _same(body)


def test_plain_bodies_take_the_lean_check():
    body = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.1"}
    assert order_body_valid(body) == {
        "market": "BTC-USDT",
        "side": "buy",
        "type": "limit",
        "price": Decimal("100.00"),
        "quantity": Decimal("0.1"),
        "quote_quantity": None,
        "time_in_force": "GTC",
        "post_only": False,
        "client_order_id": None,
        "self_trade_prevention": "cancel_taker",
        "stop_price": None,
        "trigger_immediately": False,
        "expire_time": None,
    }
    _same(body)
    market_buy = {"market": "BTC-USDT", "side": "buy", "type": "market", "quote_quantity": 50, "client_order_id": "a:1"}
    assert order_body_valid(market_buy)["quote_quantity"] == Decimal(50)
    _same(market_buy)


def test_anything_unusual_goes_through_the_serializer():
    plain = {"market": "BTC-USDT", "side": "buy", "type": "limit", "price": "1", "quantity": "1"}
    for change in (
        {"stop_price": "1"},  # a field this check does not know
        {"post_only": "true"},
        {"side": "BUY"},
        {"market": " BTC-USDT"},
        {"price": "1e3"},
        {"price": "-1"},
        {"client_order_id": ""},
        {"time_in_force": None},
    ):
        assert order_body_valid({**plain, **change}) is None, change
    assert order_body_valid([plain]) is None
