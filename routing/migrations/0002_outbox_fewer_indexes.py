"""Drop three indexes that duplicate others on the outbox and the refs.

Every replicated write inserts an outbox row, and every delivery rewrites
it (its state changes, and ``state`` is in the pending-queue index, so the
update is never HOT): each index on the table costs both. These three
answered nothing another index did not:

- ``outbox_memory_backend (memory_id, backend_id)``: the leading columns of
  the unique ``outbox_memory_seq_unique (memory_id, backend_id, seq)``.
- ``idempotency_key``'s unique index and its ``LIKE`` twin: the key is
  ``"memory:backend:seq"``, so that constraint already makes it unique, and
  nothing looks entries up by it (the admin's search is a substring match).
- ``routing_externalref.backend_id``: the leading column of the unique
  ``externalref_backend_extid (backend_id, external_id)``.

``tests/test_schema.py`` checks that no index is covered by another.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="outbox_memory_backend"),
        migrations.AlterField(
            model_name="externalref",
            name="backend",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="refs",
                to="routing.backend",
            ),
        ),
        migrations.AlterField(
            model_name="outboxentry",
            name="idempotency_key",
            field=models.CharField(max_length=120),
        ),
    ]
