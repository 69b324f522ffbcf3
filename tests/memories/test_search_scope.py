"""The hand-written vector statement of a :class:`memories.search.Scope`
ranks exactly as the queryset path does, over the same candidate set."""

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
    by_queryset = search_memories(queryset=scope.queryset(), **common)
    return by_scope, by_queryset


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
@pytest.mark.parametrize("subjects", [{}, {"user_id": "user-b"}])
def test_scope_ranks_like_the_queryset_path(space, crowd, mode, subjects):
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


def test_a_starved_scope_falls_back_to_an_exact_scan(team, space, add):
    """A subject with few rows among many: whatever plan the index scan
    takes, every one of the subject's memories is found."""
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
    scope = Scope(space_id=space.pk, now=timezone.now(), subjects={"user_id": "rare"})
    hits = search_memories(
        scope=scope,
        query_embedding=unit(1),
        query_tokens=[],
        top_k=5,
        threshold=None,
        mode="vector",
    )
    assert {m.pk for m, _ in hits} == {m.pk for m in mine}


@pytest.mark.parametrize(
    "filters",
    [
        {"user_id": {"in": ["a", "b"]}},
        {"user_id": "*"},
        {"metadata": {"topic": "x"}},
        {"OR": [{"user_id": "a"}, {"agent_id": "b"}]},
        {"user_id": 7},
        {"categories": "work"},
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
