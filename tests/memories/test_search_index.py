"""``manage.py search_index``: status, and a rebuild with other parameters
that runs concurrently, reports progress and keeps searches working."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from memories.search import search_memories
from memories.search_index import model_index
from memories.selectors import memories_in
from tests.memories.test_search import add as add  # a fixture
from tests.memories.test_search import unit

pytestmark = pytest.mark.django_db(transaction=True)


def _definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'memory_embedding_hnsw'"
        )
        return cursor.fetchone()[0]


def _model_parameters() -> tuple[str, str]:
    index = model_index()
    return f"m='{index.m}'", f"ef_construction='{index.ef_construction}'"


def _run(*args) -> str:
    out = io.StringIO()
    call_command("search_index", *args, stdout=out)
    return out.getvalue()


def test_status_names_the_index_and_its_parameters():
    text = _run("status")
    assert "memory_embedding_hnsw: valid" in text
    assert all(part in text for part in _model_parameters())
    assert "pgvector: 0.8" in text
    assert "run manage.py search_index rebuild" not in text


def test_rebuild_swaps_in_an_index_with_other_parameters(space, add, monkeypatch):
    from memories import search_index

    monkeypatch.setattr(search_index, "PROGRESS_SECONDS", 0.01)
    memories = [add(f"m{i}", unit(1, 0.05 * i)) for i in range(200)]
    text = _run("rebuild", "--m", "8", "--ef-construction", "32", "--workers", "0")
    assert "rebuilt" in text and "swapping" in text
    definition = _definition()
    assert "m='8'" in definition and "ef_construction='32'" in definition
    index = model_index()
    assert (
        f"built with m=8, ef_construction=32; this version builds m={index.m}, "
        f"ef_construction={index.ef_construction}: run manage.py search_index "
        "rebuild"
    ) in _run("status")
    with connection.cursor() as cursor:  # one valid index by that name, no leftovers
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'memory_embedding%%'"
        )
        assert [row[0] for row in cursor.fetchall()] == ["memory_embedding_hnsw"]
    hits = search_memories(
        queryset=memories_in(space=space),
        query_embedding=unit(1),
        query_tokens=[],
        top_k=3,
        threshold=None,
        mode="vector",
    )
    assert [m.pk for m, _ in hits] == [m.pk for m in memories[:3]]
    _run("rebuild")  # back to the model's parameters
    assert all(part in _definition() for part in _model_parameters())


def test_a_leftover_of_an_interrupted_rebuild_is_dropped_first():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX memory_embedding_hnsw_rebuild ON memories_memory "
            "USING hnsw (embedding vector_cosine_ops)"
        )
    _run("rebuild")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'memory_embedding%%'"
        )
        assert cursor.fetchone()[0] == 1


def test_parameters_out_of_bounds_are_refused_before_anything_runs():
    with pytest.raises(CommandError, match="ef_construction"):
        _run("rebuild", "--m", "16", "--ef-construction", "20")
    with pytest.raises(CommandError, match="m must be"):
        _run("rebuild", "--m", "1")
    assert all(part in _definition() for part in _model_parameters())


def test_codes_are_shown_and_added_by_the_command(monkeypatch):
    from memories import search_index

    assert "binary codes: present" in _run("status")
    search_index.drop_binary_codes(connection)
    try:
        assert "binary codes: missing (manage.py search_index codes)" in _run("status")
        text = _run("codes")
        assert "memory_space_codes built in" in text and "binary codes present" in text
    finally:
        search_index.add_binary_codes(connection)
    assert "binary codes: already present" in _run("codes")
    monkeypatch.setattr(search_index, "can_add_binary_codes", lambda cursor: False)
    with pytest.raises(CommandError, match=r"older than 0\.7"):
        _run("codes")
