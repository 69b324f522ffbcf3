"""The embeddings of a space's or a user's memories in a btree beside
their subject keys, so an exact search of them is an index-only scan.

Built ``CONCURRENTLY`` (the migration is not atomic): on a large store it
takes a while (at a million memories under 30 s for about 2 GB), and reads
and writes go on meanwhile.

An index-only scan reads the heap for rows on pages the visibility map does
not mark all-visible, which only VACUUM does. Autovacuum runs on inserts
after 20% of the table by default (200,000 memories at a million); 1%
keeps a user's recent memories in the index alone; such a vacuum mostly
visits the pages written since the last one.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

INSERT_SCALE = (
    "ALTER TABLE memories_memory SET (autovacuum_vacuum_insert_scale_factor = 0.01)"
)
DEFAULT_SCALE = (
    "ALTER TABLE memories_memory RESET (autovacuum_vacuum_insert_scale_factor)"
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("memories", "0014_pgvector_update")]

    operations = [
        AddIndexConcurrently(
            model_name="memory",
            index=models.Index(
                fields=["space", "user_id"],
                include=["state", "expires_at", "id", "embedding"],
                name="memory_space_vectors",
            ),
        ),
        migrations.RunSQL(INSERT_SCALE, DEFAULT_SCALE),
    ]
