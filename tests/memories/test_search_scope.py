"""The hand-written vector statement of a :class:`memories.search.Scope`
ranks exactly as the queryset path does, over the same candidate set."""

import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.db import ProgrammingError, connection, transaction
from django.utils import timezone

from memories.models import Memory, MemoryState
from memories.search import Scope, search_memories
from memoryhub.db import fetch_bound
from tests.factories import make_space
from tests.memories.test_search import DIMS, tokens, unit
from tests.memories.test_search import add as add

pytestmark = pytest.mark.django_db

SUBJECTS = ("user-a", "user-b", "user-c")


@pytest.fixture
def crowd(team, space, add):
    """60 memories of three users in ``space``, some archived or expired,
    and 20 in another space of the same team, all near one another."""
    rng = np.random.default_rng(3)
    other = make_space(team, "other")
    now = timezone.now()
    for n in range(80):
        vector = rng.normal(size=DIMS) + 3 * np.eye(DIMS)[n % 5]
        memory = add(
            f"memory {n} about {'tea' if n % 2 else 'coffee'} and gardens",
            (vector / np.linalg.norm(vector)).tolist(),
            space if n < 60 else other,
        )
        memory.user_id = SUBJECTS[n % 3]
        if n % 11 == 0:
            memory.state = MemoryState.ARCHIVED
        if n % 13 == 0:
            memory.expires_at = now - timedelta(minutes=1)
        if n % 17 == 0:
            memory.expires_at = now + timedelta(days=1)
        memory.save()
    return now


def _both(space, now, subjects, mode, query_embedding, query, top_k=7):
    scope = Scope(space_id=space.pk, now=now, subjects=subjects)
    common = {
        "query_embedding": query_embedding,
        "query_tokens": tokens(query),
        "top_k": top_k,
        "threshold": None,
        "mode": mode,
    }
    by_scope = search_memories(scope=scope, **common)
    # The reference ranks exactly: with the HNSW index the queryset path is
    # approximate, and on a test database whose graph holds every earlier
    # test's rolled-back rows (or was rebuilt by a table rewrite mid-run) its
    # first seven can differ from the exact seven the scope's scan finds.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")
    try:
        by_queryset = search_memories(queryset=scope.queryset(), **common)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_indexscan', 'on', true)")
    return by_scope, by_queryset


@pytest.mark.parametrize("strong_cap", [1000, 5], ids=["strong-hits", "too-many"])
@pytest.mark.parametrize("mode", ["vector", "hybrid"])
@pytest.mark.parametrize("subjects", [{}, {"user_id": "user-b"}])
def test_scope_ranks_like_the_queryset_path(
    space, crowd, mode, subjects, strong_cap, monkeypatch
):
    from memories import search as search_module

    monkeypatch.setattr(search_module, "MAX_STRONG_ROWS", strong_cap)
    for axis in range(5):
        by_scope, by_queryset = _both(
            space, crowd, subjects, mode, unit(*([0] * axis), 1), "tea gardens"
        )
        assert [(m.pk, round(s, 6)) for m, s in by_scope] == [
            (m.pk, round(s, 6)) for m, s in by_queryset
        ]
        assert by_scope, "nothing found"
        for memory, _ in by_scope:
            assert memory.space_id == space.pk
            assert memory.state == MemoryState.ACTIVE
            assert memory.expires_at is None or memory.expires_at > crowd
            assert subjects.get("user_id", memory.user_id) == memory.user_id
            # Every attribute a serializer reads, converted as a queryset would.
            assert isinstance(memory.metadata, dict)
            assert isinstance(memory.categories, list)
            assert memory.similarity == pytest.approx(1 - memory.distance)


@pytest.mark.parametrize(
    ("plan", "statements"),
    [
        ("exact first", 2),  # the count (kept a minute), then the exact scan
        ("iterative", 2),  # the HNSW scan goes on until it has them
        ("single pass", 2),  # the HNSW scan comes back short: exact scan
    ],
)
def test_a_rare_subject_is_found_whichever_plan_serves_it(
    team, space, add, settings, django_assert_num_queries, plan, statements
):
    """A subject with few rows among many: every one of its memories is
    found, by an exact scan chosen from the measured row count, by the
    iterative index scan, or by the exact scan after a short single pass."""
    from memories import search as search_module

    crowd = make_space(team, "crowd")
    rng = np.random.default_rng(5)
    for _ in range(200):
        add("crowd", (rng.normal(size=DIMS) + 40 * np.eye(DIMS)[0]).tolist(), crowd)
        add("noise", (rng.normal(size=DIMS) + 40 * np.eye(DIMS)[0]).tolist(), space)
    mine = []
    for i in range(3):
        memory = add("mine", unit(0, 0, 1, 0.1 * i))
        memory.user_id = "rare"
        memory.save()
        mine.append(memory)
    search_module._sizes.clear()
    settings.SEARCH_EXACT_MAX_ROWS = 2000 if plan == "exact first" else 0
    with connection.cursor() as cursor:
        # The HNSW index, though the planner would pick the user_id index
        # and sort the three rows itself.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 3")  # a first pass of 3
        if plan == "single pass":
            cursor.execute("SET LOCAL hnsw.iterative_scan = off")
    scope = Scope(space_id=space.pk, now=timezone.now(), subjects={"user_id": "rare"})

    def search():
        return search_memories(
            scope=scope,
            query_embedding=unit(1),
            query_tokens=[],
            top_k=3,  # all it has: fewer would be re-run exactly to be sure
            threshold=None,
            mode="vector",
        )

    # The iterative scan alone usually has them; it may still stop short on
    # an index full of earlier tests' dead rows (its tuple and memory
    # bounds), and the exact scan then follows: at most one more statement.
    with django_assert_num_queries(statements, exact=plan != "iterative"):
        hits = search()
    assert {m.pk for m, _ in hits} == {m.pk for m in mine}
    if plan == "exact first":
        assert search_module._sizes[(space.pk, "rare")][0] == 3
        with django_assert_num_queries(1):  # the count is kept
            assert {m.pk for m, _ in search()} == {m.pk for m in mine}


def test_a_large_subject_starts_with_the_index(space, add, settings):
    from memories import search as search_module

    search_module._sizes.clear()
    settings.SEARCH_EXACT_MAX_ROWS = 3
    for i in range(5):
        add(f"m{i}", unit(1, i))
    scope = Scope(space_id=space.pk, now=timezone.now())
    assert not search_module._few_rows(scope)
    settings.SEARCH_EXACT_MAX_ROWS = 5
    search_module._sizes.clear()
    assert search_module._few_rows(scope)
    # Subject ids without an index to count by: the index first.
    assert not search_module._few_rows(
        Scope(space_id=space.pk, now=timezone.now(), subjects={"run_id": "r"})
    )


@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction
def test_a_scan_reads_codes_from_the_index_alone(team, space, settings):
    """The scan of a space's or a user's rows ranks the binary codes in
    ``memory_space_codes`` alone (an index-only scan, no heap page visited),
    and with candidates for all of them re-ranks exactly: the nearest of the
    scope's active, unexpired rows. The scope's rows lie apart in the heap,
    as a user's do in a big table, where the planner chose this plan by
    itself (docs/benchmarks-history.md, "Seventh pass"); the planner is
    told so here, since a test's few thousand rows would fit its cache."""
    from memories import search as search_module

    rng = np.random.default_rng(11)
    other = make_space(team, "elsewhere")
    now = timezone.now()
    rows = []
    for n in range(2000):
        vector = rng.normal(size=DIMS)
        rows.append(
            Memory(
                space=space if n % 4 == 0 else other,
                user_id="user-1" if n % 8 == 0 else "user-0",
                content=b"sealed",
                content_mac=uuid.uuid4().bytes,
                embedding=(vector / np.linalg.norm(vector)).tolist(),
                state=MemoryState.ARCHIVED if n % 10 == 0 else MemoryState.ACTIVE,
                expires_at=now - timedelta(minutes=1) if n % 14 == 0 else None,
            )
        )
    Memory.objects.bulk_create(rows)
    vectors = {m.pk: (m, np.array(m.embedding)) for m in rows}
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Memory._meta.db_table}")
        # Reset below. No sequential or bitmap scan, and no cache to hold the
        # heap, as when the table is a hundred times the size.
        for plan in ("seqscan", "bitmapscan"):
            cursor.execute(f"SET enable_{plan} = off")
        cursor.execute("SET effective_cache_size = '64kB'")
    search_module._sizes.clear()
    settings.SEARCH_EXACT_MAX_ROWS = 1000
    settings.SEARCH_RERANK_CANDIDATES = 1000  # every row of the scope
    plans = []

    def explain(execute, sql, params, many, context):
        if "OFFSET 0" in sql:
            execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params, many, context)
            plans.append("\n".join(row[0] for row in context["cursor"].fetchall()))
        return execute(sql, params, many, context)

    query = rng.normal(size=DIMS)
    query /= np.linalg.norm(query)
    try:
        for subjects in ({"user_id": "user-1"}, {}):
            scope = Scope(space_id=space.pk, now=timezone.now(), subjects=subjects)
            with connection.execute_wrapper(explain):
                hits = search_memories(
                    scope=scope,
                    query_embedding=query,
                    query_tokens=[],
                    top_k=8,
                    threshold=None,
                    mode="vector",
                )
            wanted = sorted(
                (
                    float(1 - np.dot(vector, query)),
                    memory.pk,
                )
                for memory, vector in vectors.values()
                if memory.space_id == space.pk
                and memory.state == MemoryState.ACTIVE
                and memory.expires_at is None
                and subjects.get("user_id", memory.user_id) == memory.user_id
            )[:8]
            assert [m.pk for m, _ in hits] == [pk for _, pk in wanted]
            assert [1 - s for _, s in hits] == pytest.approx(
                [d for d, _ in wanted], abs=1e-5
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ALL")
    assert len(plans) == 2
    for plan in plans:
        assert "Index Only Scan using memory_space_codes" in plan, plan
        assert "Heap Fetches: 0" in plan, plan


def test_autovacuum_keeps_new_memories_visible_to_index_only_scans():
    """Rows VACUUM has not seen are read from the heap even by an index-only
    scan: the memories table is vacuumed after 1% of it is new, not 20%."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
            [Memory._meta.db_table],
        )
        (options,) = cursor.fetchone()
    assert "autovacuum_vacuum_insert_scale_factor=0.01" in options


@pytest.mark.parametrize(
    "filters",
    [
        {"user_id": {"in": ["a", "b"]}},
        {"user_id": "*"},
        {"metadata": {"topic": "x"}},
        {"OR": [{"user_id": "a"}, {"agent_id": "b"}]},
        {"user_id": 7},
        {"categories": "work"},
        ["user_id", "ada"],  # not an object: the filter language says so
        "user_id=ada",
    ],
)
def test_only_plain_subject_equalities_make_a_scope(filters):
    assert Scope.of(1, filters, timezone.now()) is None


def test_subject_equalities_make_a_scope():
    now = timezone.now()
    scope = Scope.of(4, {"user_id": "ada", "run_id": "r1"}, now)
    assert scope == Scope(
        space_id=4, now=now, subjects={"user_id": "ada", "run_id": "r1"}
    )
    assert Scope.of(4, None, now).subjects == {}


def test_one_of_queryset_or_scope():
    with pytest.raises(ValueError, match="one of them"):
        search_memories(
            query_embedding=unit(1),
            query_tokens=[],
            top_k=1,
            threshold=None,
            mode="vector",
        )


def test_server_bound_statements_raise_djangos_errors():
    """Errors come translated, as from Django's cursors (the outage handler
    and every caller expect django.db errors)."""
    with pytest.raises(ProgrammingError), transaction.atomic():
        fetch_bound("SELECT no_such_column FROM memories_memory", [])
    with connection.cursor() as cursor:  # the savepoint rolled back: usable
        cursor.execute("SELECT 1")


def test_the_query_embedding_goes_as_a_binary_parameter(space, add):
    from pgvector import Vector
    from pgvector.psycopg.vector import VectorBinaryDumper

    memory = add("one", unit(1, 1))
    ((found, distance),) = fetch_bound(
        "SELECT id, embedding <=> %s::vector FROM memories_memory WHERE id = %s",
        [Vector(unit(1, 1)), memory.pk],
        dumpers=[(Vector, VectorBinaryDumper)],
    )
    assert found == memory.pk and distance == pytest.approx(0, abs=1e-6)
    assert Memory.objects.filter(pk=memory.pk).exists()


def test_filters_that_are_not_an_object_are_refused_clearly(space):
    """Whatever surface passes them (the API's serializer checks first; the
    mem0 API and MCP hand them on), the selector answers a clear error."""
    from accounts.actors import SYSTEM
    from memories.selectors import memory_search
    from memoryhub.errors import InvalidInput

    for filters in (["user_id", "ada"], "user_id=ada"):
        with pytest.raises(InvalidInput, match="filters"):
            memory_search(
                actor=SYSTEM, space=space, query="tea", filters=filters, mode="vector"
            )
