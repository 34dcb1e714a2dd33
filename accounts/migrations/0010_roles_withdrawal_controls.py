"""Compliance and back office set verification tiers and edit tier limits; both see whitelisted addresses."""

from django.db import migrations


def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    # missing_ok: permissions of models that later migrations add are synced by those.
    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_roles_trader_pnl"), ("wallets", "0007_withdrawal_whitelist_and_tier_limits")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
