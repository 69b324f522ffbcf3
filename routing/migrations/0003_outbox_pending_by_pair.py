"""Key the pending-entries index by (memory, backend, seq) instead of
(state, next_at).

Delivery looks up one pair's pending entries. With the old index, whenever
the statistics undercounted pending rows (a queue table's normal state: a
backlog grows faster than ANALYZE runs), the planner scanned every pending
entry for each delivery, so catching up after an outage cost the square of
the backlog: 0.2 ms per delivery with 1,800 pending in the routing
benchmark's database. Keyed by the pair, the lookup reads only its rows,
and the sweeper, which wants every due pending entry, scans the same
index: it still holds nothing but pending rows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_outbox_fewer_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="outboxentry", name="outbox_pending_next"),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(
                condition=models.Q(("state", "pending")),
                fields=["memory_id", "backend", "seq"],
                name="outbox_pending_pair",
            ),
        ),
    ]
