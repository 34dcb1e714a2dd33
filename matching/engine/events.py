"""Constants and event types of the matching engine.

Every event is a :class:`typing.NamedTuple`, so it compares, hashes, pickles and
prints like a tuple and its fields can be read by name.  The field order is part
of the public interface (the DB worker unpacks them).
"""

from __future__ import annotations

from typing import NamedTuple

# Sides.
BUY = "buy"
SELL = "sell"

# Order types.
LIMIT = "limit"
MARKET = "market"
STOP_LIMIT = "stop_limit"  # rests outside the book until triggered, then a limit order
STOP_MARKET = "stop_market"  # likewise, then a market order

# Time in force.
GTC = "GTC"
IOC = "IOC"
FOK = "FOK"
GTD = "GTD"  # good till date: like GTC until ``expire(now)`` reaches its expire_time

# Self-trade prevention modes (the taker's mode decides).
CANCEL_TAKER = "cancel_taker"
CANCEL_MAKER = "cancel_maker"
CANCEL_BOTH = "cancel_both"

# Reasons carried by ``Canceled``.
USER = "user"
IOC_REMAINDER = "ioc_remainder"
FOK_UNFILLABLE = "fok_unfillable"
SELF_TRADE = "self_trade"
NO_LIQUIDITY = "no_liquidity"
INSUFFICIENT_BUDGET = "insufficient_budget"
EXPIRED = "expired"  # a GTD order whose expire_time passed
OCO_OTHER_LEG = "oco_other_leg"  # the other leg of an OCO pair traded, triggered or went

# Reasons carried by ``Rejected``.
POST_ONLY_WOULD_TAKE = "post_only_would_take"
DUPLICATE_ORDER_ID = "duplicate_order_id"
INVALID_ORDER = "invalid_order"
STOP_WOULD_TRIGGER = "stop_would_trigger"

# Reasons carried by ``AmendRejected`` (besides ``unknown_order``, ``invalid_order``
# and ``post_only_would_take``).
NOT_AMENDABLE = "not_amendable"  # an untriggered stop or an OCO leg

# Reason carried by ``CancelRejected``.
UNKNOWN_ORDER = "unknown_order"


class Rested(NamedTuple):
    """The (remainder of a) limit order now rests in the book."""

    order_id: int
    side: str
    price: int
    quantity: int  # lots that rest


class Trade(NamedTuple):
    """One fill between a resting maker and the incoming taker."""

    maker_id: int
    taker_id: int
    price: int  # always the maker's price
    quantity: int
    taker_side: str
    maker_owner: int
    taker_owner: int


class Filled(NamedTuple):
    """The order is completely done and nothing of it is left in the book."""

    order_id: int


class Canceled(NamedTuple):
    """The order (or what was left of it) is gone without being filled."""

    order_id: int
    reason: str
    remaining: int  # lots not filled (0 for a market buy given only a budget)


class Rejected(NamedTuple):
    """The order was refused before it touched the book."""

    order_id: int
    reason: str


class CancelRejected(NamedTuple):
    """A cancel request for an id that is not resting in the book."""

    order_id: int
    reason: str


class StopRested(NamedTuple):
    """A stop order now waits outside the book for the last trade price to cross ``stop_price``."""

    order_id: int
    side: str
    stop_price: int


class Triggered(NamedTuple):
    """A waiting stop was triggered; the events of its entry into the book follow."""

    order_id: int
    side: str
    stop_price: int
    last_price: int  # the trade price that crossed stop_price (or the last price on arrival)


class Amended(NamedTuple):
    """A resting order's price and/or remaining quantity changed.

    With ``priority_kept`` False the order lost its place: the events of its
    re-entry (trades as a taker, then one terminal event) follow.
    """

    order_id: int
    side: str
    price: int
    quantity: int  # lots left to fill after the amend
    priority_kept: bool


class AmendRejected(NamedTuple):
    """An amend that changed nothing."""

    order_id: int
    reason: str


class OrderInfo(NamedTuple):
    """What :meth:`OrderBook.get` returns for a resting order."""

    owner: int
    side: str
    price: int
    quantity: int  # remaining lots


class RestingOrder(NamedTuple):
    """What :meth:`OrderBook.orders` yields: exactly the arguments of ``restore``."""

    order_id: int
    owner: int
    side: str
    price: int
    quantity: int


class OrderState(NamedTuple):
    """A resting order with everything needed to rebuild it: the arguments of ``restore``."""

    order_id: int
    owner: int
    side: str
    price: int
    quantity: int
    time_in_force: str = GTC
    post_only: bool = False
    stp: str = CANCEL_TAKER
    expire_time: int | None = None


class StopState(NamedTuple):
    """A waiting stop order: exactly the arguments of ``restore_stop``."""

    order_id: int
    owner: int
    side: str
    type: str  # STOP_LIMIT or STOP_MARKET
    stop_price: int
    price: int | None = None
    quantity: int | None = None
    quote_budget: int | None = None
    time_in_force: str = GTC
    stp: str = CANCEL_TAKER
    expire_time: int | None = None


class BookState(NamedTuple):
    """Everything a book needs to behave identically after a rebuild (``OrderBook.load``)."""

    last_price: int | None
    now: int | None
    orders: list[OrderState]  # priority order, bids then asks
    stops: list[StopState]  # arrival order
    oco: list[tuple[int, int]]  # (limit leg id, stop leg id) of the linked pairs


Event = (
    Rested | Trade | Filled | Canceled | Rejected | CancelRejected | StopRested | Triggered | Amended | AmendRejected
)
