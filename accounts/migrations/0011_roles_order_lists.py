"""Compliance sees OCO order lists (and exports them, like every list it sees)."""

from django.db import migrations


def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    # missing_ok: permissions of models added by later migrations are synced by those.
    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_roles_withdrawal_controls"), ("markets", "0006_order_types")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
