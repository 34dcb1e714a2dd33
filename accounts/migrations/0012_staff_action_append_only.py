"""On PostgreSQL, refuse UPDATE, DELETE and TRUNCATE of the staff audit trail, superusers included.

A row-level trigger refuses UPDATE and DELETE whoever asks. TRUNCATE is refused too,
unless the session set ``exchange.allow_audit_truncate`` to ``on``: the test suite does
that to empty its throw-away test database between tests (``tests/conftest.py``).
Whoever owns the table can still drop the trigger; production grants the application's
role no more than INSERT and SELECT on it (docs/BACKOFFICE.md).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION staff_action_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('exchange.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the staff audit trail is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER staff_action_no_update_delete BEFORE UPDATE OR DELETE ON accounts_staffaction
    FOR EACH ROW EXECUTE FUNCTION staff_action_refuse_change();
CREATE TRIGGER staff_action_no_truncate BEFORE TRUNCATE ON accounts_staffaction
    FOR EACH STATEMENT EXECUTE FUNCTION staff_action_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS staff_action_no_truncate ON accounts_staffaction;
DROP TRIGGER IF EXISTS staff_action_no_update_delete ON accounts_staffaction;
DROP FUNCTION IF EXISTS staff_action_refuse_change();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0011_roles_order_lists")]

    operations = [migrations.RunPython(create, drop)]
