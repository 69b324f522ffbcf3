"""Keep a memory row, embedding included, in its heap page (no TOAST).

A row is about 2.1 KB, the 384-dim embedding 1.5 KB of it: just over
PostgreSQL's default 2 KB toast threshold, so every embedding went to the
TOAST table and each exact distance computation (filtered searches, which
scan a user's rows) paid two more lookups. ``toast_tuple_target = 8160``
keeps rows up to a page inline; longer content is still moved out first
(the largest column goes first). An exact scan of 1,000 rows took 2.7 ms
with toasted embeddings and 1.2 ms inline.

Rows written before this migration keep their layout until they are
rewritten (an update, or ``VACUUM FULL memories_memory`` in a maintenance
window).
"""

from django.db import migrations

TABLE = "memories_memory"


class Migration(migrations.Migration):
    dependencies = [("memories", "0003_change_feed_indexes")]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE {TABLE} SET (toast_tuple_target = 8160)",
            reverse_sql=f"ALTER TABLE {TABLE} RESET (toast_tuple_target)",
        )
    ]
