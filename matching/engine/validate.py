"""Validation of order arguments, shared by the book and its lifecycle commands."""

from __future__ import annotations

from .events import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    STOP_LIMIT,
    STOP_MARKET,
)

_type = type

_SIDES = {BUY: BUY, SELL: SELL}
_TYPES = {LIMIT: LIMIT, MARKET: MARKET, STOP_LIMIT: STOP_LIMIT, STOP_MARKET: STOP_MARKET}
_BASE = {LIMIT: LIMIT, MARKET: MARKET, STOP_LIMIT: LIMIT, STOP_MARKET: MARKET}
_TIFS = {GTC: GTC, IOC: IOC, FOK: FOK, GTD: GTD}
_STPS = {CANCEL_TAKER: CANCEL_TAKER, CANCEL_MAKER: CANCEL_MAKER, CANCEL_BOTH: CANCEL_BOTH}


def _normalize(
    side: object,
    type_: object,
    price: object,
    quantity: object,
    quote_budget: object,
    time_in_force: object,
    post_only: object,
    stp: object,
    stop_price: object,
    trigger_immediately: object,
    expire_time: object,
) -> tuple[str, str, str, str, str] | None:
    """Canonical ``(side, type, base type, tif, stp)`` of a valid order, else None."""
    try:
        side_c = _SIDES.get(side)  # type: ignore[call-overload]
        type_c = _TYPES.get(type_)  # type: ignore[call-overload]
        tif = _TIFS.get(time_in_force)  # type: ignore[call-overload]
        stp_c = _STPS.get(stp)  # type: ignore[call-overload]
    except TypeError:  # unhashable argument
        return None
    if side_c is None or type_c is None or tif is None or stp_c is None:
        return None
    if post_only is not True and post_only is not False:
        return None
    if quantity is not None and (_type(quantity) is not int or quantity <= 0):  # type: ignore[operator]
        return None
    if quote_budget is not None and (_type(quote_budget) is not int or quote_budget <= 0):  # type: ignore[operator]
        return None
    # GTD needs an int expiry; any other time in force takes none (not a stray False or 0.0).
    if (_type(expire_time) is not int) if tif == GTD else (expire_time is not None):
        return None
    base = _BASE[type_c]
    if base is not type_c:  # a stop order
        if _type(stop_price) is not int or stop_price <= 0 or post_only:  # type: ignore[operator]
            return None
        if trigger_immediately is not True and trigger_immediately is not False:
            return None
    elif stop_price is not None:
        return None
    if base == LIMIT:
        if _type(price) is not int or price <= 0 or quantity is None or quote_budget is not None:  # type: ignore[operator]
            return None
        if post_only and tif != GTC and tif != GTD:
            return None
    else:
        if price is not None or post_only or tif == FOK:
            return None
        if tif == GTD and base is type_c:  # a market order never waits; a stop-market may
            return None
        if quantity is None and quote_budget is None:
            return None
        if quote_budget is not None and side_c != BUY:
            return None
    return side_c, type_c, base, tif, stp_c
