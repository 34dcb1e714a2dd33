"""Create the staff role groups (back_office, compliance, market_ops) with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); a fresh
    # database needs them now to attach them to the groups.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    from accounts.roles import roles_sync

    # Permissions of later migrations' models do not exist yet; those migrations sync again.
    roles_sync(apps=apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("markets", "0002_book_snapshot"),
        ("wallets", "0002_withdrawals_manual_deposits"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
