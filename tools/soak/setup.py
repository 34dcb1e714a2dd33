"""The soak's processes and its market: a harness that restarts them with the soak's arguments, funded traders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from accounts.models import User
from accounts.selectors import fee_account
from markets.models import Currency, Market
from tools.harness import Harness, HarnessError
from wallets.deposits import custody_deposit_notify, deposit_address_get

FAULTS = ("matcher", "worker", "beat", "web", "redis")


class SoakRefused(Exception):
    """The soak cannot run in this configuration (e.g. on SQLite)."""


# -- processes -------------------------------------------------------------------

# Quiet, fast-starting Celery processes; beat keeps its schedule file with the logs.
WORKER_ARGS = ("-l", "warning", "-c", "2", "--without-gossip", "--without-mingle", "--without-heartbeat")
SOAK_WEB = {"WEB_WORKERS": "2", "WEB_THREADS": "1"}


def soak_harness(*, env: dict[str, str], market: str, log_dir: Path) -> Harness:
    """A harness whose matcher, worker and beat take the soak's arguments on every (re)start."""
    procs = Harness(env={**SOAK_WEB, **env}, log_dir=log_dir)
    procs.extra_args.update(
        {
            "matcher": ("--market", market),
            "worker": WORKER_ARGS,
            "beat": ("-l", "warning", "-s", str(log_dir / "celerybeat-schedule")),
        }
    )
    return procs


def wait_matching(procs: Harness, market: str, timeout: float = 60) -> None:
    """Wait until our matcher holds the market (not another matcher on this database)."""
    try:
        procs.wait_log("matcher", f"matching {market}", timeout=timeout, fail_on=["another matcher holds market"])
    except HarnessError as exc:
        if "another matcher holds market" in str(exc):
            raise SoakRefused(
                f"another run_matcher on this database holds {market}; stop it (or give it --market)"
            ) from exc
        raise


# -- the market and the traders ------------------------------------------------


@dataclass
class SoakMarket:
    market: Market
    users: list[User]


RETRIES = 10
PRICE = Decimal("100")
TICK = Decimal("0.01")
LOT = Decimal("0.001")
BASE_FUNDING = Decimal("10000")
QUOTE_FUNDING = Decimal("1000000")


def soak_market_create(
    *,
    traders: int,
    tag: str,
    kind: str = "soak",
    base_funding: Decimal = BASE_FUNDING,
    quote_funding: Decimal = QUOTE_FUNDING,
    min_notional: Decimal = Decimal("1"),
) -> SoakMarket:
    """Create a fresh market and funded traders; funding goes through custody deposits so audits balance.

    ``kind`` names the run in currency codes, names and e-mails (the soak, bench_ws).
    """
    prefix = kind[0].upper()
    base, _ = Currency.objects.get_or_create(
        code=f"{prefix}B{tag}",
        defaults={"name": f"{kind.capitalize()} base {tag}", "precision": 8, "min_confirmations": 1},
    )
    quote, _ = Currency.objects.get_or_create(
        code=f"{prefix}Q{tag}",
        defaults={"name": f"{kind.capitalize()} quote {tag}", "precision": 8, "min_confirmations": 1},
    )
    market = Market.objects.create(
        symbol=f"{base.code}-{quote.code}",
        base=base,
        quote=quote,
        tick_size=TICK,
        lot_size=LOT,
        min_qty=LOT,
        min_notional=min_notional,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
    )
    fee_account()
    users = []
    for i in range(traders):
        user = User.objects.create_user(email=f"{kind}-{tag.lower()}-{i}@{kind}.invalid", password=None)
        for currency, amount in ((base, base_funding), (quote, quote_funding)):
            address = deposit_address_get(user=user, currency=currency).address
            custody_deposit_notify(
                currency_code=currency.code,
                address=address,
                amount=amount,
                txid=f"{kind}-{tag}-{i}-{currency.code}",
                confirmations=currency.min_confirmations,
            )
        users.append(user)
    return SoakMarket(market=market, users=users)


def access_token(user: User) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))
