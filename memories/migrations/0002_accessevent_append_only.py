"""Make the access audit append-only at the database level."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION memories_accessevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'memories_accessevent is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER memories_accessevent_no_change
    BEFORE UPDATE OR DELETE ON memories_accessevent
    FOR EACH ROW EXECUTE FUNCTION memories_accessevent_append_only();
"""

UNDO = """
DROP TRIGGER IF EXISTS memories_accessevent_no_change ON memories_accessevent;
DROP FUNCTION IF EXISTS memories_accessevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("memories", "0001_initial")]
    operations = [migrations.RunSQL(FORBID, UNDO)]
