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
        ("accounts", "0012_staff_action_append_only"),
        ("markets", "0007_order_amend_request"),
        ("wallets", "0008_withdrawal_user_created_index"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
