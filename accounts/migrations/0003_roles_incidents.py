"""Let every staff role see ledger incidents (resolving them stays with superusers)."""

from django.db import migrations



def sync(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import roles_sync

    # Permissions of later migrations' models do not exist yet; those migrations sync again.
    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles"), ("wallets", "0003_incidents")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
