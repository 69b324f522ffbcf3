"""Indexes for the local change feed: memories by (updated_at, id), audit
rows by (action, at, id).

Built ``CONCURRENTLY`` (so the migration is not atomic): an upgrade on a
large store must not block writes to memories or to the audit log while the
indexes build.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("memories", "0002_accessevent_append_only")]

    operations = [
        AddIndexConcurrently(
            model_name="accessevent",
            index=models.Index(
                fields=["action", "at", "id"], name="accessevent_action_at"
            ),
        ),
        AddIndexConcurrently(
            model_name="memory",
            index=models.Index(fields=["updated_at", "id"], name="memory_updated_id"),
        ),
    ]
