"""One account on one screen for compliance: every section as headers and rows, for the page and its CSV.

Each section names the permission it needs; a staff member sees (and exports) only the
sections their role may view. Long sections show the latest ``LIMIT`` rows on the page;
the CSV export carries every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SessionFamily, User
from backoffice.money import money
from markets.models import Order, Trade
from wallets.models import Deposit, DepositAddress, LedgerEntry, Wallet, Withdrawal, WithdrawalAddress

LIMIT = 100
MAX_QUERY = 200


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    permission: str
    headers: tuple[str, ...]
    rows: Callable[[User], Iterator[tuple[Any, ...]]]


def _balances(user: User) -> Iterator[tuple[Any, ...]]:
    for w in Wallet.objects.filter(user=user).select_related("currency").order_by("currency__code"):
        p = w.currency.precision
        yield (w.currency.code, money(w.balance, p), money(w.locked, p), money(w.balance - w.locked, p))


def _open_orders(user: User) -> Iterator[tuple[Any, ...]]:
    orders = Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES).select_related(
        "market__base", "market__quote"
    )
    for o in orders.order_by("-id"):
        base, quote = o.market.base.precision, o.market.quote.precision
        qty = money(o.quantity, base) if o.quantity is not None else f"{money(o.quote_quantity, quote)} (quote)"
        yield (
            o.pk,
            o.created_at,
            o.market.symbol,
            o.side,
            o.type,
            money(o.price, quote),
            qty,
            money(o.filled_quantity, base),
            o.status,
            o.client_order_id or "",
        )


def _fills(user: User) -> Iterator[tuple[Any, ...]]:
    trades = Trade.objects.filter(Q(maker_user=user) | Q(taker_user=user)).select_related(
        "market__base", "market__quote"
    )
    for t in trades.order_by("-id"):
        taker = t.taker_user_id == user.pk
        side = t.taker_side if taker else ("sell" if t.taker_side == "buy" else "buy")
        base, quote = t.market.base.precision, t.market.quote.precision
        fee = t.taker_fee if taker else t.maker_fee
        fee_code = t.market.base.code if side == "buy" else t.market.quote.code
        yield (
            t.pk,
            t.created_at,
            t.market.symbol,
            side,
            "taker" if taker else "maker",
            money(t.price, quote),
            money(t.quantity, base),
            money(t.quote_quantity, quote),
            f"{money(fee)} {fee_code}",
            t.taker_order_id if taker else t.maker_order_id,
        )


def _deposits(user: User) -> Iterator[tuple[Any, ...]]:
    for d in Deposit.objects.filter(user=user).select_related("currency").order_by("-id"):
        yield (
            d.pk,
            d.created_at,
            d.currency.code,
            money(d.amount, d.currency.precision),
            d.status,
            d.source,
            d.confirmations,
            d.txid,
            d.address,
        )


def _withdrawals(user: User) -> Iterator[tuple[Any, ...]]:
    for w in Withdrawal.objects.filter(user=user).select_related("currency").order_by("-id"):
        p = w.currency.precision
        yield (w.pk, w.created_at, w.currency.code, money(w.amount, p), money(w.fee, p), w.status, w.address, w.txid)


def _whitelist(user: User) -> Iterator[tuple[Any, ...]]:
    for a in WithdrawalAddress.objects.filter(user=user).select_related("currency").order_by("-id"):
        yield (a.currency.code, a.address, a.label, a.created_at, a.usable_from)


def _ledger(user: User) -> Iterator[tuple[Any, ...]]:
    for e in LedgerEntry.objects.filter(user=user).select_related("currency").order_by("-id"):
        p = e.currency.precision
        yield (
            e.pk,
            e.created_at,
            e.currency.code,
            e.kind,
            money(e.amount, p),
            money(e.locked_change, p),
            money(e.balance_after, p),
            money(e.locked_after, p),
            e.reference,
        )


def _logins(user: User) -> Iterator[tuple[Any, ...]]:
    for f in SessionFamily.objects.filter(user=user).order_by("-id"):
        yield (f.started_at, f.revoked_at or "", f.revoked_reason)


SECTIONS: tuple[Section, ...] = (
    Section("balances", "Balances", "wallets.view_wallet", ("Currency", "Balance", "Locked", "Available"), _balances),
    Section(
        "open_orders",
        "Open orders",
        "markets.view_order",
        ("Order", "Placed", "Market", "Side", "Type", "Price", "Quantity", "Filled", "Status", "Client id"),
        _open_orders,
    ),
    Section(
        "fills",
        "Fills",
        "markets.view_trade",
        ("Trade", "Time", "Market", "Side", "Role", "Price", "Quantity", "Value", "Fee", "Order"),
        _fills,
    ),
    Section(
        "deposits",
        "Deposits",
        "wallets.view_deposit",
        ("Id", "Time", "Currency", "Amount", "Status", "Source", "Confirmations", "Txid", "Address"),
        _deposits,
    ),
    Section(
        "withdrawals",
        "Withdrawals",
        "wallets.view_withdrawal",
        ("Id", "Time", "Currency", "Amount", "Fee", "Status", "Address", "Txid"),
        _withdrawals,
    ),
    Section(
        "whitelist",
        "Whitelisted withdrawal addresses",
        "wallets.view_withdrawaladdress",
        ("Currency", "Address", "Label", "Added", "Usable from"),
        _whitelist,
    ),
    Section(
        "ledger",
        "Ledger",
        "wallets.view_ledgerentry",
        ("Id", "Time", "Currency", "Kind", "Amount", "Locked change", "Balance after", "Locked after", "Reference"),
        _ledger,
    ),
    Section("logins", "API logins (session families)", "accounts.view_user", ("Started", "Revoked", "Why"), _logins),
)
SECTION_KEYS = {s.key: s for s in SECTIONS}


def sections_for(staff: Any) -> list[Section]:
    return [s for s in SECTIONS if staff.has_perm(s.permission)]


def two_factor_summary(user: User) -> dict[str, Any]:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return {
        "enabled": device is not None,
        "confirmed_at": getattr(device, "created_at", None),
        "last_used_at": getattr(device, "last_used_at", None),
        "backup_codes_left": StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
        "pending_setup": TOTPDevice.objects.filter(user=user, confirmed=False).exists(),
    }


@dataclass(frozen=True)
class Match:
    user: User
    why: str


def customer_search(query: str, staff: Any) -> list[Match]:
    """Accounts by email (part of it), deposit address, txid (deposit or withdrawal) or order id."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    found: dict[int, Match] = {}

    def add(users: Any, why: str) -> None:
        for u in users[:LIMIT]:
            found.setdefault(u.pk, Match(u, why))

    add(User.objects.filter(email__icontains=query).order_by("email"), "email")
    add(User.objects.filter(deposit_addresses__address=query), "deposit address")
    if staff.has_perm("wallets.view_deposit"):
        add(User.objects.filter(deposits__txid=query), "deposit txid")
    if staff.has_perm("wallets.view_withdrawal"):
        add(User.objects.filter(Q(withdrawals__txid=query) | Q(withdrawals__address=query)), "withdrawal txid/address")
    if staff.has_perm("markets.view_order"):
        order = Q(orders__client_order_id=query)
        if query.isdigit() and len(query) < 19:
            order |= Q(orders__pk=int(query))
        add(User.objects.filter(order), "order id")
    return sorted(found.values(), key=lambda m: m.user.email)[:LIMIT]


def deposit_addresses(user: User) -> list[tuple[str, str]]:
    return list(
        DepositAddress.objects.filter(user=user).order_by("currency__code").values_list("currency__code", "address")
    )
