"""Drop foreign-key indexes that the leading column of another index covers.

Django gives every foreign key an index of its own. On these tables another
index already starts with the key's column, so lookups by it and the checks
when the referenced row is deleted use that one, and the extra index only
cost every insert and every non-HOT update. Memory rows and their history
events are written on every add, update and delete.

- ``memories_memory.space_id``: ``memory_space_user``, ``memory_space_created``
  and ``memory_space_keyver`` all lead with it.
- ``memories_memoryevent.memory_id``: ``memoryevent_memory_at``.
- ``memories_space.team_id``: ``space_team_slug_unique``.
- ``memories_spacekey.space_id``: ``spacekey_version_unique``.
- the object-permission rows' ``user_id`` / ``group_id``: their
  (user or group, permission, space) unique constraints.

``tests/test_schema.py`` keeps it so for every table of MemoryHub's apps.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_drop_redundant_fk_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("memories", "0004_memory_rows_inline"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="memory",
            name="space",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memories",
                to="memories.space",
            ),
        ),
        migrations.AlterField(
            model_name="memoryevent",
            name="memory",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="memories.memory",
            ),
        ),
        migrations.AlterField(
            model_name="space",
            name="team",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="spaces",
                to="accounts.team",
            ),
        ),
        migrations.AlterField(
            model_name="spacegroupobjectpermission",
            name="group",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                to="auth.group",
            ),
        ),
        migrations.AlterField(
            model_name="spacekey",
            name="space",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="keys",
                to="memories.space",
            ),
        ),
        migrations.AlterField(
            model_name="spaceuserobjectpermission",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
