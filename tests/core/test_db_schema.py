"""The database schema as migrated: what every write has to maintain."""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

OWN_APPS = ("accounts", "memories", "routing")

# Pairs of plain b-tree indexes on one table where the first one's columns
# (with their operator classes) lead the second one's. An index that INCLUDEs
# columns carries them for index-only scans and is that much bigger, so it
# leaves a narrower index on its keys useful (memory_space_user beside
# memory_space_vectors: 6.5 MB against 2 GB at a million memories).
_COVERED = """
SELECT t.relname, a.relname, b.relname
FROM pg_index ia
JOIN pg_index ib ON ib.indrelid = ia.indrelid AND ib.indexrelid <> ia.indexrelid
JOIN pg_class a ON a.oid = ia.indexrelid
JOIN pg_class b ON b.oid = ib.indexrelid
JOIN pg_class t ON t.oid = ia.indrelid
JOIN pg_am am ON am.oid = a.relam AND am.amname = 'btree'
JOIN pg_am bm ON bm.oid = b.relam AND bm.amname = 'btree'
CROSS JOIN LATERAL (SELECT ia.indnkeyatts AS n) k
WHERE t.relname = ANY(%s)
  AND NOT ia.indisunique
  AND ia.indpred IS NULL AND ib.indpred IS NULL
  AND ia.indexprs IS NULL AND ib.indexprs IS NULL
  AND ia.indnatts = ia.indnkeyatts AND ib.indnatts = ib.indnkeyatts
  AND k.n <= ib.indnkeyatts
  AND (ia.indkey::int2[])[0:k.n - 1] = (ib.indkey::int2[])[0:k.n - 1]
  AND (ia.indclass::oid[])[0:k.n - 1] = (ib.indclass::oid[])[0:k.n - 1]
  AND (ia.indoption::int2[])[0:k.n - 1] = (ib.indoption::int2[])[0:k.n - 1]
ORDER BY 1, 2, 3
"""


def _own_tables() -> list[str]:
    """Tables of MemoryHub's models; Django's own many-to-many tables aside."""
    return sorted(
        model._meta.db_table
        for app in OWN_APPS
        for model in apps.get_app_config(app).get_models(include_auto_created=False)
    )


def test_no_index_is_covered_by_another_on_the_same_table():
    """Each redundant index costs every insert (a replicated memory write
    inserts into memories_memory, memories_memoryevent and the outbox) and
    answers nothing the covering index does not."""
    with connection.cursor() as cursor:
        cursor.execute(_COVERED, [_own_tables()])
        covered = cursor.fetchall()
    assert covered == []


def test_the_check_finds_a_covered_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX test_covered ON routing_outboxentry (memory_id, backend_id)"
        )
        cursor.execute(_COVERED, [_own_tables()])
        covered = cursor.fetchall()
    assert covered == [
        ("routing_outboxentry", "test_covered", "outbox_memory_seq_unique")
    ]
