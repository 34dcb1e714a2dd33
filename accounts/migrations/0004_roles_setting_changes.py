"""Settings history and proposals: every role sees them; market ops and back office approve."""

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
    dependencies = [("accounts", "0003_roles_incidents"), ("markets", "0004_money_settings_validation_and_history")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
