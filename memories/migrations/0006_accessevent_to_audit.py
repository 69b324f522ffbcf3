"""The access audit now belongs to the ``audit`` app: state only, the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0005_drop_redundant_fk_indexes"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="AccessEvent")],
        ),
    ]
