"""``ApiKey.spaces`` is now declared by ``memories.Space.api_keys``: state only.

The join table ``accounts_apikey_spaces`` and its rows stay; ``memories``
0008 adds the relation on its side (accounts, the layer below, names no
space any more).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_drop_redundant_fk_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.RemoveField(model_name="apikey", name="spaces")],
        ),
    ]
