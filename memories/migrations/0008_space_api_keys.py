"""A key's spaces are declared on ``Space`` (state only; the table stays).

See accounts 0004: the same join table, ``accounts_apikey_spaces``, with the
same ``apikey_id`` and ``space_id`` columns.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0007_remove_space_default_route"),
        ("accounts", "0004_apikey_spaces_declared_by_space"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AddField(
                    model_name="space",
                    name="api_keys",
                    field=models.ManyToManyField(
                        blank=True,
                        db_table="accounts_apikey_spaces",
                        related_name="spaces",
                        to="accounts.apikey",
                    ),
                ),
            ],
        ),
    ]
