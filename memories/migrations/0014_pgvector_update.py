"""Bring the ``vector`` extension up to the server's pgvector.

A database keeps the SQL definitions of the pgvector it was created with
until ``ALTER EXTENSION vector UPDATE``, even once the server runs a newer
pgvector: embedded installations made by ``pgserver`` 0.1.4 have 0.6.2, and
now run pgvector 0.8 (iterative index scans for filtered search). A no-op
when the extension is current; nothing to undo.

Updating an extension takes its owner (the user that ran 0001's ``CREATE
EXTENSION``) or a superuser. Where MemoryHub's user is neither, the
migration goes on with a warning rather than block the deployment, and the
system check ``memoryhub.W001`` keeps naming the version and the fix.
"""

from django.db import migrations

UPDATE = """
DO $$
BEGIN
    ALTER EXTENSION vector UPDATE;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'pgvector not updated (%): run ALTER EXTENSION vector UPDATE '
        'as the extension''s owner or a superuser', SQLERRM;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("memories", "0013_memory_verbose_name")]
    operations = [migrations.RunSQL(UPDATE, migrations.RunSQL.noop)]
