"""Compliance sees the realized PnL list (and exports it to CSV)."""

from django.db import migrations


def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_session_family_password_reasons"), ("wallets", "0006_trader_pnl")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
