"""Let back office and compliance freeze accounts, and compliance read the staff audit trail."""

from django.db import migrations

from accounts.roles import roles_sync_step


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_account_freezes"),
        ("accounts", "0012_staff_action_append_only"),
        ("markets", "0007_order_amend_request"),
        ("wallets", "0008_withdrawal_user_created_index"),
    ]

    operations = [migrations.RunPython(roles_sync_step(), migrations.RunPython.noop)]
