"""Let back office and compliance freeze accounts, and compliance read the staff audit trail."""

from django.db import migrations


def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    roles_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_account_freezes"),
        ("accounts", "0007_tiers_freezes_staff_actions"),
        ("markets", "0006_order_types"),
        ("wallets", "0005_drop_fk_indexes_covered_by_composites"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
