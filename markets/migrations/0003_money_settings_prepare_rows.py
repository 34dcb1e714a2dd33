"""Bring stored currency and market settings within the constraints of the next migration.

Its own migration so the row updates commit before the tables are altered (PostgreSQL
refuses ALTER TABLE with pending trigger events in the same transaction).
"""

from django.db import migrations


def prepare_rows(apps, schema_editor):
    """Bring stored settings within the new constraints, or stop with the rows to fix.

    A dual-approval threshold of zero (or less) meant "two approvers for every amount":
    the currency's smallest unit keeps that meaning. Zero confirmations become one. Any
    other out-of-range value is a decision for people, so the migration refuses.
    """
    from decimal import Decimal

    Currency = apps.get_model("markets", "Currency")
    Market = apps.get_model("markets", "Market")
    for currency in Currency.objects.all():
        fields = []
        if currency.dual_approval_threshold <= 0:
            currency.dual_approval_threshold = Decimal(1).scaleb(-currency.precision)
            fields.append("dual_approval_threshold")
        if currency.min_confirmations < 1:
            currency.min_confirmations = 1
            fields.append("min_confirmations")
        if fields:
            currency.save(update_fields=fields)
    bad = [c.code for c in Currency.objects.all() if c.withdrawal_fee < 0 or c.min_withdrawal < 0]
    cap = Decimal("0.1")
    bad += [
        m.symbol
        for m in Market.objects.all()
        if m.tick_size <= 0
        or m.lot_size <= 0
        or m.min_qty < 0
        or m.min_notional < 0
        or not 0 <= m.maker_fee <= cap
        or not 0 <= m.taker_fee <= cap
        or m.base_id == m.quote_id
    ]
    if bad:
        raise RuntimeError(f"Fix these currencies / markets by hand before migrating: {', '.join(bad)}")



class Migration(migrations.Migration):
    dependencies = [("markets", "0002_book_snapshot")]

    operations = [migrations.RunPython(prepare_rows, migrations.RunPython.noop)]
