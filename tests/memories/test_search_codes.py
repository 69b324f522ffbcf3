"""A scan of a scope's rows through binary codes (migration 0016): what it
finds against an exact ranking, and the exact scan where there are no codes."""

import uuid

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from memories import search as search_module
from memories.models import Memory
from memories.search import Scope, search_memories
from memories.search_index import (
    CODES_INDEX,
    VECTORS_INDEX,
    add_binary_codes,
    codes_ready,
    drop_binary_codes,
)
from tests.memories.test_search import DIMS

pytestmark = pytest.mark.django_db


def _clustered(rng, count: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around ``centres``, as sentence embeddings gather by
    topic (random directions in 384 dimensions are all nearly orthogonal,
    which no embedding model produces)."""
    picks = centres[rng.integers(len(centres), size=count)]
    vectors = picks + 0.35 * rng.normal(size=(count, DIMS)) / np.sqrt(DIMS)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _fill(space, vectors: np.ndarray, user_id: str) -> dict:
    rows = [
        Memory(
            space=space,
            user_id=user_id,
            content=b"sealed",
            content_mac=uuid.uuid4().bytes,
            embedding=vector.tolist(),
        )
        for vector in vectors
    ]
    Memory.objects.bulk_create(rows)
    return {m.pk: np.asarray(m.embedding) for m in rows}


def _search(space, query, top_k: int, user_id: str = "u"):
    scope = Scope(space_id=space.pk, now=timezone.now(), subjects={"user_id": user_id})
    return search_memories(
        scope=scope,
        query_embedding=query.tolist(),
        query_tokens=[],
        top_k=top_k,
        threshold=None,
        mode="vector",
    )


def test_codes_pick_the_nearest_rows_for_the_rerank(space, settings):
    """3,000 rows, 200 candidates by Hamming distance, re-ranked by cosine:
    the exact nearest ten are found (measured at a million memories on the
    benchmark corpus: 99.9% of them, README "Search"), and every score is the
    exact cosine of the memory it comes with."""
    rng = np.random.default_rng(17)
    centres = rng.normal(size=(40, DIMS))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = _fill(space, _clustered(rng, 3000, centres), "u")
    settings.SEARCH_EXACT_MAX_ROWS = 5000
    settings.SEARCH_RERANK_CANDIDATES = 200
    search_module._sizes.clear()
    assert codes_ready()
    queries = _clustered(rng, 30, centres)
    found = wanted_total = 0
    for query in queries:
        hits = _search(space, query, top_k=10)
        assert len(hits) == 10
        for memory, score in hits:
            assert score == pytest.approx(float(vectors[memory.pk] @ query), abs=1e-5)
        exact = sorted(vectors, key=lambda pk: -float(vectors[pk] @ query))[:10]
        found += len({m.pk for m, _ in hits} & set(exact))
        wanted_total += 10
    assert found / wanted_total >= 0.97, found / wanted_total


def test_a_short_scope_is_never_cut_by_the_candidates(space, settings):
    """Fewer candidates than ``top_k`` (a setting of 1) still return
    ``top_k`` rows: ten candidates per result are the floor."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(5, DIMS))
    _fill(space, _clustered(rng, 300, centres), "u")
    settings.SEARCH_EXACT_MAX_ROWS = 5000
    settings.SEARCH_RERANK_CANDIDATES = 1
    search_module._sizes.clear()
    hits = _search(space, _clustered(rng, 1, centres)[0], top_k=25)
    assert len(hits) == 25
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [Memory._meta.db_table],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)  # concurrent index builds
def test_without_codes_the_scan_is_exact_and_codes_can_be_added(space, settings):
    """Where pgvector predates 0.7 migration 0016 leaves the table without
    codes: the embeddings' covering index stays and searches rank exactly.
    ``add_binary_codes`` (``manage.py search_index codes``) adds them later;
    both directions are idempotent."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(10, DIMS))
    vectors = _fill(space, _clustered(rng, 400, centres), "u")
    settings.SEARCH_EXACT_MAX_ROWS = 5000
    settings.SEARCH_RERANK_CANDIDATES = 1  # ten per result: 100 of 400 rows
    search_module._sizes.clear()
    query = _clustered(rng, 1, centres)[0]
    exact = sorted(vectors, key=lambda pk: -float(vectors[pk] @ query))[:10]
    try:
        drop_binary_codes(connection)
        drop_binary_codes(connection)
        assert not codes_ready()
        assert VECTORS_INDEX in _indexes() and CODES_INDEX not in _indexes()
        assert [m.pk for m, _ in _search(space, query, top_k=10)] == exact
    finally:
        assert add_binary_codes(connection)
    assert add_binary_codes(connection)
    assert codes_ready()
    assert CODES_INDEX in _indexes() and VECTORS_INDEX not in _indexes()
    hits = _search(space, query, top_k=10)
    assert len(hits) == 10
    # The rows written before the column existed have their codes too.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Memory._meta.db_table} "  # noqa: S608
            "WHERE embedding IS NOT NULL AND embedding_codes IS NULL"
        )
        assert cursor.fetchone() == (0,)
