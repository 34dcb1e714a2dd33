"""Compliance sees OCO order lists (and exports them, like every list it sees)."""

from django.db import migrations

from accounts.roles import roles_sync_step


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_roles_withdrawal_controls"), ("markets", "0006_order_types")]

    operations = [migrations.RunPython(roles_sync_step(missing_ok=True), migrations.RunPython.noop)]
