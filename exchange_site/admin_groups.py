"""The admin's menu grouped by the work staff do, not by the Python app a model lives in.

Trading, Funding, Customers, Staff and security, System. Plumbing (book snapshots,
candles, backup-code devices, JWT bookkeeping) is shown to superusers only: the rows are
written by the system and nobody works in them. Models are named by label, so this
module imports no app; a model not named here lands in System.
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Trading",
        "trading",
        (
            "markets.Market",
            "markets.Order",
            "markets.OrderList",
            "markets.Trade",
            "markets.Currency",
            "markets.SettingProposal",
            "markets.SettingChange",
        ),
    ),
    (
        "Funding",
        "funding",
        (
            "wallets.Withdrawal",
            "wallets.Deposit",
            "wallets.ManualDeposit",
            "wallets.Wallet",
            "wallets.LedgerEntry",
            "wallets.WithdrawalEvent",
            "wallets.TraderPnl",
            "wallets.TierLimit",
            "wallets.WithdrawalAddress",
            "wallets.WithdrawalWhitelist",
        ),
    ),
    ("Customers", "customers", ("accounts.User", "accounts.TwoFactorReset", "backoffice.AccountFreeze")),
    (
        "Staff and security",
        "staff",
        ("accounts.StaffAction", "auth.Group", "otp_totp.TOTPDevice", "admin.LogEntry"),
    ),
    ("System", "system", ("wallets.Incident",)),
)
PLUMBING = frozenset(
    {
        "markets.BookSnapshot",
        "markets.Candle",
        "otp_static.StaticDevice",
        "token_blacklist.OutstandingToken",
        "token_blacklist.BlacklistedToken",
        "wallets.SettlementCursor",
    }
)
# Screens that are not a model's list, by URL name, shown first in their group to staff.
EXTRA_LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("Customer page and search", "backoffice-customers"),),
    "staff": (("Two-factor enrolment (QR code)", "backoffice-two-factor"),),
}


def _link(name: str, url_name: str) -> dict[str, Any] | None:
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    return {
        "name": name,
        "object_name": url_name.replace("-", "_"),
        "admin_url": url,
        "add_url": None,
        "perms": {"view": True},
        "view_only": True,
    }


def group_apps(app_list: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """Django's per-app list regrouped into the work groups, plumbing left out for non-superusers."""
    models: dict[str, dict[str, Any]] = {}
    for app in app_list:
        for entry in app["models"]:
            models[entry["model"]._meta.label] = entry
    placed: set[str] = set()
    groups = []
    for name, slug, labels in GROUPS:
        entries = [models[label] for label in labels if label in models]
        placed.update(labels)
        if slug == "system":
            rest = sorted((lb for lb in models if lb not in placed), key=lambda lb: str(models[lb]["name"]))
            entries += [models[lb] for lb in rest if user.is_superuser or lb not in PLUMBING]
        extras = [link for link in (_link(*x) for x in EXTRA_LINKS.get(slug, ())) if link] if entries else []
        if entries or extras:
            groups.append(
                {
                    "name": name,
                    "app_label": slug,
                    "app_url": f"#{slug}",
                    "has_module_perms": True,
                    "models": extras + entries,
                }
            )
    return groups
