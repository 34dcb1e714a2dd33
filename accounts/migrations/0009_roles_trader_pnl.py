"""Compliance sees the realized PnL list (and exports it to CSV)."""

from django.db import migrations

from accounts.roles import roles_sync_step


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_session_family_password_reasons"), ("wallets", "0006_trader_pnl")]

    operations = [migrations.RunPython(roles_sync_step(missing_ok=True), migrations.RunPython.noop)]
