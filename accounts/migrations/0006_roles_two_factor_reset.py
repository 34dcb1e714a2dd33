"""Let back office propose and approve 2FA resets; back office and compliance see them."""

from django.db import migrations


def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    # A later migration adds permissions this one's models predate, and syncs strictly.
    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_sessions_and_two_factor_resets"), ("markets", "0004_money_settings_validation_and_history")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
