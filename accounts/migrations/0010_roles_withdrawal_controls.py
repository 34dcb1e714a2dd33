"""Compliance and back office set verification tiers and edit tier limits; both see whitelisted addresses."""

from django.db import migrations

from accounts.roles import roles_sync_step


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_roles_trader_pnl"), ("wallets", "0007_withdrawal_whitelist_and_tier_limits")]

    operations = [migrations.RunPython(roles_sync_step(missing_ok=True), migrations.RunPython.noop)]
