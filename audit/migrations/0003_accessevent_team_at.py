"""A team's audit rows in time order (the team app's activity page).

The index is built concurrently (the audit table is the largest one and is
written on every request), before the old single-column index it covers is
dropped.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0002_accessevent_duration_ms"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="accessevent",
            index=models.Index(fields=["team_pk", "at"], name="accessevent_team_at"),
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="team_pk",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
