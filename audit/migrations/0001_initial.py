"""The access audit moves from ``memories`` to its own app: state only.

The table (``memories_accessevent``), its indexes and its append-only trigger
stay as ``memories`` migrations 0001-0003 made them; only Django's model state
changes hands (``memories`` 0006 removes the model from its side).
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("memories", "0005_drop_redundant_fk_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="AccessEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor", models.CharField(max_length=200)),
                        ("user_pk", models.BigIntegerField(blank=True, null=True)),
                        ("api_key_pk", models.BigIntegerField(blank=True, null=True)),
                        (
                            "team_pk",
                            models.BigIntegerField(blank=True, db_index=True, null=True),
                        ),
                        (
                            "space_pk",
                            models.BigIntegerField(blank=True, db_index=True, null=True),
                        ),
                        ("space_slug", models.CharField(blank=True, max_length=64)),
                        ("action", models.CharField(max_length=32)),
                        ("surface", models.CharField(max_length=16)),
                        ("backend", models.CharField(default="local", max_length=64)),
                        (
                            "memory_ids",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.UUIDField(),
                                blank=True,
                                default=list,
                                size=None,
                            ),
                        ),
                        ("count", models.PositiveIntegerField(default=0)),
                        ("detail", models.JSONField(blank=True, default=dict)),
                    ],
                    options={
                        "db_table": "memories_accessevent",
                        "ordering": ["-at", "-id"],
                        "default_permissions": ("view",),
                        "indexes": [
                            django.contrib.postgres.indexes.GinIndex(
                                fields=["memory_ids"], name="accessevent_memory_ids"
                            ),
                            models.Index(
                                fields=["action", "at", "id"],
                                name="accessevent_action_at",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
