"""Production bootstrap: the fee account, currencies, markets and the first superuser.

``manage.py bootstrap_exchange`` (markets/management/commands/bootstrap_exchange.py)
reads a JSON spec and calls these. Everything is validated before anything is written,
and a second run with the same spec changes nothing. An existing currency or market is
never modified here (tick and lot sizes need a drained book and a matcher restart, fees
go through the market-ops admin): a spec that disagrees with the database is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from accounts.selectors import fee_account
from exchange_site.errors import InvalidInput

from .models import FEE_HARD_CAP, Currency, Market
from .services_settings import setting_created_record

# The settings history names the bootstrap (no person: actor None) as the creator.
BOOTSTRAP_REASON = "bootstrap_exchange"
CODE_RE = re.compile(r"[A-Z0-9]{2,10}")
MAX_PRECISION = settings.MONEY_DECIMAL_PLACES
MONEY_LIMIT = settings.MONEY_LIMIT
CURRENCY_AMOUNTS = ("withdrawal_fee", "min_withdrawal", "dual_approval_threshold")
CURRENCY_KEYS = {"name", "precision", "min_confirmations", *CURRENCY_AMOUNTS}
MARKET_KEYS = {"tick_size", "lot_size", "min_qty", "min_notional", "maker_fee", "taker_fee"}


class BootstrapError(InvalidInput):
    """A bootstrap spec the exchange cannot be set up from."""


@dataclass
class BootstrapReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _decimal(where: str, raw: Any, *, places: int, positive: bool = False, maximum: Decimal | None = None) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise BootstrapError(f'{where}: give a decimal as a string, e.g. "0.01".')
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise BootstrapError(f"{where}: {raw!r} is not a decimal.") from exc
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise BootstrapError(f"{where}: must be {'greater than zero' if positive else 'zero or more'}.")
    if value >= MONEY_LIMIT or (maximum is not None and value > maximum):
        raise BootstrapError(f"{where}: {raw} is out of range (at most {maximum or 'below ' + str(MONEY_LIMIT)}).")
    if value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN) != value:
        raise BootstrapError(f"{where}: {raw} has more than {places} decimal places.")
    return value


def _int(where: str, raw: Any, *, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise BootstrapError(f"{where}: must be a whole number from {low} to {high}.")
    return raw


def _keys(where: str, spec: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise BootstrapError(f"{where}: must be an object.")
    unknown = set(spec) - allowed
    if unknown:
        raise BootstrapError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)}).")
    missing = required - set(spec)
    if missing:
        raise BootstrapError(f"{where}: missing keys {sorted(missing)}.")
    return spec


def bootstrap_spec_clean(raw: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Validate a spec ``{"currencies": {CODE: {...}}, "markets": {"BASE-QUOTE": {...}}}``.

    Tick sizes must fit the quote currency's precision, lot sizes and minimum quantities
    the base currency's; fee rates are between 0 and ``MAX_TRADING_FEE``.
    """
    spec = _keys("spec", raw, {"currencies", "markets"}, set())
    currencies: dict[str, dict[str, Any]] = {}
    for code, cspec in _keys("currencies", spec.get("currencies", {}), set(spec.get("currencies", {})), set()).items():
        where = f"currency {code}"
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            raise BootstrapError(f"{where}: the code must be 2 to 10 capital letters or digits.")
        cspec = _keys(where, cspec, CURRENCY_KEYS, {"name", "precision"})
        name = cspec["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise BootstrapError(f"{where}: name must be 1 to 64 characters.")
        precision = _int(f"{where} precision", cspec["precision"], low=0, high=MAX_PRECISION)
        clean: dict[str, Any] = {"name": name.strip(), "precision": precision}
        clean["min_confirmations"] = _int(
            f"{where} min_confirmations", cspec.get("min_confirmations", 1), low=1, high=10_000
        )
        for key in CURRENCY_AMOUNTS:
            if key in cspec:
                clean[key] = _decimal(f"{where} {key}", cspec[key], places=precision)
        currencies[code] = clean

    markets: dict[str, dict[str, Any]] = {}
    for symbol, mspec in _keys("markets", spec.get("markets", {}), set(spec.get("markets", {})), set()).items():
        where = f"market {symbol}"
        parts = symbol.split("-") if isinstance(symbol, str) else []
        if len(parts) != 2 or parts[0] == parts[1]:
            raise BootstrapError(f"{where}: the symbol must be BASE-QUOTE, two different currency codes.")
        precisions = {}
        for code in parts:
            if code in currencies:
                precisions[code] = currencies[code]["precision"]
            else:
                existing = Currency.objects.filter(code=code).first()
                if existing is None:
                    raise BootstrapError(f'{where}: unknown currency {code} (add it under "currencies").')
                precisions[code] = existing.precision
        base_places, quote_places = precisions[parts[0]], precisions[parts[1]]
        mspec = _keys(where, mspec, MARKET_KEYS, {"tick_size", "lot_size"})
        clean = {
            "tick_size": _decimal(f"{where} tick_size", mspec["tick_size"], places=quote_places, positive=True),
            "lot_size": _decimal(f"{where} lot_size", mspec["lot_size"], places=base_places, positive=True),
            "min_qty": _decimal(f"{where} min_qty", mspec.get("min_qty", "0"), places=base_places),
            "min_notional": _decimal(f"{where} min_notional", mspec.get("min_notional", "0"), places=quote_places),
        }
        fee_cap = min(settings.MAX_TRADING_FEE, FEE_HARD_CAP)
        for key, default in (("maker_fee", "0.001"), ("taker_fee", "0.002")):
            clean[key] = _decimal(f"{where} {key}", mspec.get(key, default), places=MAX_PRECISION, maximum=fee_cap)
        if clean["min_qty"] % clean["lot_size"]:
            raise BootstrapError(f"{where}: min_qty must be a multiple of lot_size.")
        markets[symbol] = clean
    return {"currencies": currencies, "markets": markets}


def _differences(obj: Any, wanted: dict[str, Any]) -> list[str]:
    return [
        f"{k}: {getattr(obj, k)} in the database, {v} in the spec" for k, v in wanted.items() if getattr(obj, k) != v
    ]


def exchange_bootstrap(*, spec: dict[str, dict[str, dict[str, Any]]]) -> BootstrapReport:
    """Create the fee account and what is missing of a cleaned spec, in one transaction."""
    report = BootstrapReport()
    with transaction.atomic(durable=True):
        fees = fee_account()
        report.unchanged.append(f"fee account {fees.email}")
        for code, wanted in spec["currencies"].items():
            currency, created = Currency.objects.get_or_create(code=code, defaults=wanted)
            if created:
                setting_created_record(target=currency, actor=None, reason=BOOTSTRAP_REASON)
                report.created.append(f"currency {code}")
                continue
            diff = _differences(currency, wanted)
            if diff:
                raise BootstrapError(
                    f"currency {code} exists with other settings ({'; '.join(diff)}); change it in the admin."
                )
            report.unchanged.append(f"currency {code}")
        for symbol, wanted in spec["markets"].items():
            base, quote = symbol.split("-")
            market = Market.objects.filter(symbol=symbol).first()
            if market is None:
                market = Market(
                    symbol=symbol,
                    base=Currency.objects.get(code=base),
                    quote=Currency.objects.get(code=quote),
                    status=Market.Status.OPEN,
                    **wanted,
                )
                market.full_clean()  # the model's money rules, the same the settings services apply
                market.save()
                setting_created_record(target=market, actor=None, reason=BOOTSTRAP_REASON)
                report.created.append(f"market {symbol}")
                continue
            diff = _differences(market, wanted)
            if diff:
                raise BootstrapError(
                    f"market {symbol} exists with other settings ({'; '.join(diff)}); change it in the admin."
                )
            report.unchanged.append(f"market {symbol}")
    return report


def superuser_bootstrap(*, email: str, password: str) -> tuple[User, bool]:
    """Create the first staff superuser; an existing account is left untouched (returns created=False)."""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise BootstrapError(f"{email!r} is not an email address.") from exc
    email = User.objects.normalize_email(email).lower()
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing, False
    try:
        validate_password(password, user=User(email=email))
    except ValidationError as exc:
        raise BootstrapError("The admin password is too weak: " + " ".join(exc.messages)) from exc
    with transaction.atomic(durable=True):
        return User.objects.create_superuser(email, password), True
