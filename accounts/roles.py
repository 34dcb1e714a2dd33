"""Staff roles: Django groups and the permissions each one carries.

The groups are created by a data migration (``accounts/migrations/0002_roles``), which
calls ``roles_sync``; a later change to ``ROLE_PERMISSIONS`` needs a new migration that
calls it again. Superusers manage staff (``is_staff``) and their groups.

- ``back_office``: views users, wallets, ledger, deposits and withdrawals; approves,
  rejects and marks withdrawals sent; proposes (and approves colleagues') manual deposits
  and 2FA resets of users who lost their authenticator; sets verification tiers and
  edits the tier limits; freezes accounts and asks for (or approves a colleague's request
  of) an unfreeze.
- ``compliance``: views everything (the staff audit trail included), exports any list to
  CSV, freezes accounts (as back office may); changes nothing else but the verification
  tiers of accounts and the withdrawal limit of each tier (as back office).
- ``market_ops``: currencies and markets: fees, filters, halt and resume; proposes the
  changes that weaken a money control and approves colleagues' proposals.

A change that weakens a money control (``markets.services_settings``) is applied only
when a second person holding ``markets.approve_settingproposal`` approves it: market
ops and back office both hold that right, so one market-ops member is enough with a
back-office colleague; nobody approves their own proposal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps as global_apps

BACK_OFFICE = "back_office"
COMPLIANCE = "compliance"
MARKET_OPS = "market_ops"

APPROVE_WITHDRAWAL = "wallets.approve_withdrawal"
PROPOSE_MANUAL_DEPOSIT = "wallets.propose_manual_deposit"
APPROVE_MANUAL_DEPOSIT = "wallets.approve_manual_deposit"
EXPORT_CSV = "wallets.export_csv"
APPROVE_SETTING_CHANGE = "markets.approve_settingproposal"
RESET_TWO_FACTOR = "accounts.reset_two_factor"
SET_ACCOUNT_TIER = "wallets.set_account_tier"
# Verification tiers and the withdrawal limit of each: compliance and back office keep them.
TIER_RIGHTS = [
    "wallets.view_tierlimit",
    "wallets.add_tierlimit",
    "wallets.change_tierlimit",
    "wallets.delete_tierlimit",
    SET_ACCOUNT_TIER,
]
FREEZE_ACCOUNT = "backoffice.freeze_account"
VIEW_STAFF_ACTIONS = "accounts.view_staffaction"

_BACK_OFFICE_VIEWS = [
    "accounts.view_user",
    "accounts.view_twofactorreset",
    "wallets.view_wallet",
    "wallets.view_ledgerentry",
    "wallets.view_deposit",
    "wallets.view_withdrawal",
    "wallets.view_withdrawalevent",
    "wallets.view_manualdeposit",
    "wallets.view_incident",
    "wallets.view_withdrawaladdress",
    "wallets.view_withdrawalwhitelist",
    "markets.view_currency",
    "markets.view_market",
    "markets.view_settingchange",
    "markets.view_settingproposal",
    "backoffice.view_accountfreeze",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    BACK_OFFICE: [
        *_BACK_OFFICE_VIEWS,
        APPROVE_WITHDRAWAL,
        PROPOSE_MANUAL_DEPOSIT,
        APPROVE_MANUAL_DEPOSIT,
        APPROVE_SETTING_CHANGE,
        RESET_TWO_FACTOR,
        *TIER_RIGHTS,
        FREEZE_ACCOUNT,
    ],
    COMPLIANCE: [
        *_BACK_OFFICE_VIEWS,
        "markets.view_order",
        "markets.view_orderlist",
        "markets.view_trade",
        "markets.view_candle",
        "markets.view_booksnapshot",
        "wallets.view_depositaddress",
        "wallets.view_settlementcursor",
        "wallets.view_traderpnl",
        "admin.view_logentry",
        "auth.view_group",
        EXPORT_CSV,
        *TIER_RIGHTS,
        FREEZE_ACCOUNT,
        VIEW_STAFF_ACTIONS,
    ],
    MARKET_OPS: [
        "markets.view_currency",
        "markets.add_currency",
        "markets.change_currency",
        "markets.view_market",
        "markets.add_market",
        "markets.change_market",
        "markets.view_settingchange",
        "markets.view_settingproposal",
        APPROVE_SETTING_CHANGE,
    ],
}


def roles_sync(*, apps: Any = global_apps, missing_ok: bool = False) -> None:
    """Create the role groups and give each exactly the permissions of ``ROLE_PERMISSIONS``.

    ``apps`` is the migration's historical registry when called from a migration. An
    earlier migration passes ``missing_ok``: it runs before the models of permissions
    added later exist, and the later migration that adds them syncs again, strictly.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        wanted: list[Any] = []
        for name in names:
            app_label, codename = name.split(".", 1)
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                if missing_ok:
                    continue
                raise LookupError(f"permission {name} does not exist (role {role})")
            wanted.append(permission)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(wanted)


def can_review_withdrawals(user: Any) -> bool:
    """Active staff holding the back-office right to decide on withdrawals."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(APPROVE_WITHDRAWAL))


def can_reset_two_factor(user: Any) -> bool:
    """Active staff who may propose, approve or reject (colleagues') 2FA resets."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(RESET_TWO_FACTOR))


def can_set_account_tier(user: Any) -> bool:
    """Active staff who set verification tiers (compliance, back office)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(SET_ACCOUNT_TIER))


def can_export_csv(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(EXPORT_CSV))


def can_change_market_settings(user: Any) -> bool:
    """Active staff of market operations: they edit currencies and markets (or propose)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm("markets.change_market")
        and user.has_perm("markets.change_currency")
    )


def can_approve_setting_changes(user: Any) -> bool:
    """Active staff who may approve or reject a colleague's proposed settings change."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(APPROVE_SETTING_CHANGE))


def can_freeze_accounts(user: Any) -> bool:
    """Active staff who may freeze accounts and ask for or approve an unfreeze (back office, compliance)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(FREEZE_ACCOUNT))


def can_view_staff_actions(user: Any) -> bool:
    """Active staff who read the staff audit trail (compliance)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_STAFF_ACTIONS))


def roles_sync_step(*, missing_ok: bool = False) -> Callable[[Any, Any], None]:
    """A migration's RunPython function: create the permissions the migrated models need, then sync the roles.

    Every migration that changes who may do what ends with one of these; only the last
    one in the graph may be strict (see ``roles_sync``).
    """

    def step(apps: Any, schema_editor: Any) -> None:
        from django.contrib.auth.management import create_permissions

        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None
        roles_sync(apps=apps, missing_ok=missing_ok)

    return step
