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

# Time in force.
GTC = "GTC"
IOC = "IOC"
FOK = "FOK"

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

# Reasons carried by ``Rejected``.
POST_ONLY_WOULD_TAKE = "post_only_would_take"
DUPLICATE_ORDER_ID = "duplicate_order_id"
INVALID_ORDER = "invalid_order"

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


Event = Rested | Trade | Filled | Canceled | Rejected | CancelRejected
