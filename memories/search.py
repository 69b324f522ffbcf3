"""Ranking memories of a pre-scoped queryset: vector, keyword or hybrid search.

The caller scopes the queryset first: space, permissions, state, expiry and
filters are **its** job (see ``memories.selectors.memory_search``); this module
only ranks what it is given, and never sees plaintext — keyword search runs on
blind-index tokens (:func:`memoryhub.crypto.blind.blind_tokens`).

Scores and what ``threshold`` applies to, per mode:

``vector``
    Cosine similarity (``1 - cosine distance``) of the memory's embedding to
    the query's, ordered by it; ``threshold`` drops results below it.
``keyword``
    The fraction of the query's distinct tokens found in the memory (0..1],
    ordered by it, then by ``ts_rank``; ``threshold`` applies to that fraction.
``hybrid``
    Up to ``max(4 * top_k, 40)`` candidates from each list are fused with
    reciprocal rank fusion (``sum 1 / (60 + rank)``), which decides the
    order. The returned score is still the cosine similarity, and
    ``threshold`` applies to it, so a threshold means the same in vector and
    hybrid mode; scores are therefore not always descending in hybrid results.

Every returned memory also carries ``similarity``, ``keyword_score`` and
``fused_score`` attributes (``None`` where a list did not contribute).

pgvector 0.6.2 has no iterative index scan: with a selective filter the HNSW
index can hand back fewer than ``LIMIT`` rows after filtering. When a vector
list comes back short, it is re-run as an exact scan that cannot use the
index, which is cheap precisely because few rows match.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import reduce

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections, transaction
from django.db.models import Case, F, FloatField, QuerySet, Value, When
from pgvector.django import CosineDistance

from memories.models import Memory

MODES = ("vector", "keyword", "hybrid")
RRF_K = 60
MIN_CANDIDATES = 40
MAX_QUERY_TOKENS = 64
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
DEFERRED = ("keyword_index", "embedding")
_TOKEN = re.compile(r"[0-9a-z]{1,64}")


def search_memories(
    *,
    queryset: QuerySet[Memory],
    query_embedding,
    query_tokens: list[str],
    top_k: int,
    threshold: float | None,
    mode: str,
) -> list[tuple[Memory, float]]:
    """Rank ``queryset`` against the query; returns ``[(memory, score)]``.

    ``query_embedding`` (384 floats, unit length) is needed for vector and
    hybrid mode; ``query_tokens`` (blind tokens) for keyword and hybrid mode.
    Hybrid search with no tokens is vector search. See the module docstring
    for what the score and ``threshold`` mean in each mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    tokens = _clean_tokens(query_tokens) if mode != "vector" else []
    if mode == "keyword":
        if not tokens:
            return []
        hits = _keyword_list(queryset, tokens, top_k, None)
        return _finish(hits, threshold, "keyword_score")
    if query_embedding is None:
        raise ValueError(f"{mode} search needs a query embedding")
    depth = top_k if mode == "vector" or not tokens else max(4 * top_k, 40)
    with _ef_search(queryset.db, depth):
        vector = _vector_list(queryset, query_embedding, depth)
        if mode == "vector" or not tokens:
            return _finish(vector[:top_k], threshold, "similarity")
        keyword = _keyword_list(queryset, tokens, depth, query_embedding)
    return _finish(_fuse(vector, keyword)[:top_k], threshold, "similarity")


def _clean_tokens(tokens: list[str]) -> list[str]:
    """Distinct tokens, checked to be plain ``[0-9a-z]`` words for tsquery."""
    seen: dict[str, None] = {}
    for token in tokens:
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            # Blind tokens are hex; anything else could inject tsquery syntax.
            raise ValueError("query tokens must be blind-index tokens ([0-9a-z])")
        seen.setdefault(token, None)
    return list(seen)[:MAX_QUERY_TOKENS]


@contextmanager
def _ef_search(using: str, limit: int) -> Iterator[None]:
    """Run the block in a transaction with ``hnsw.ef_search`` raised for it.

    ``SET LOCAL`` semantics (``set_config(..., true)``): the value lasts until
    the transaction ends, so pooled connections never keep it. ef_search must
    be at least the LIMIT for the index to return that many rows. Inside an
    existing transaction no savepoint is opened (one round trip fewer).
    """
    connection = connections[using]
    value = min(MAX_EF_SEARCH, max(settings.HNSW_EF_SEARCH, limit))
    block = nullcontext() if connection.in_atomic_block else transaction.atomic(using)
    with block:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true)", [str(value)]
            )
        yield


def _vector_list(queryset: QuerySet[Memory], embedding, limit: int) -> list[Memory]:
    """The ``limit`` nearest memories by cosine distance, nearest first.

    ``ORDER BY embedding <=> q LIMIT n`` alone, so the HNSW index can serve
    it (a second sort key would rule the index out).
    """
    base = (
        queryset.filter(embedding__isnull=False)
        .defer(*DEFERRED)
        .annotate(distance=CosineDistance("embedding", embedding))
    )
    rows = list(base.order_by("distance")[:limit])
    if len(rows) < limit:
        # Possibly starved by filters after the index scan: "+ 0" makes the
        # sort key an expression no index provides, so this scan is exact.
        rows = list(base.order_by(F("distance") + Value(0.0))[:limit])
    for row in rows:
        row.similarity = 1.0 - row.distance
        row.keyword_score = None
    return rows


def _keyword_list(
    queryset: QuerySet[Memory], tokens: list[str], limit: int, embedding
) -> list[Memory]:
    """Memories holding any token, best coverage first; with similarity if asked."""
    config = "simple"
    any_token = SearchQuery(" | ".join(tokens), search_type="raw", config=config)
    matched = [
        Case(
            When(
                keyword_index=SearchQuery(token, search_type="raw", config=config),
                then=Value(1.0),
            ),
            default=Value(0.0),
            output_field=FloatField(),
        )
        for token in tokens
    ]
    coverage = reduce(operator.add, matched) / Value(float(len(tokens)))
    qs = (
        queryset.filter(keyword_index=any_token)
        .defer(*DEFERRED)
        .annotate(
            coverage=coverage,
            rank=SearchRank(F("keyword_index"), any_token),
        )
    )
    if embedding is not None:
        qs = qs.annotate(distance=CosineDistance("embedding", embedding))
    rows = list(qs.order_by("-coverage", "-rank", "-created_at")[:limit])
    for row in rows:
        row.keyword_score = row.coverage
        distance = getattr(row, "distance", None)
        row.similarity = None if distance is None else 1.0 - distance
    return rows


def _fuse(vector: list[Memory], keyword: list[Memory]) -> list[Memory]:
    """Reciprocal rank fusion of the two lists (one object per memory)."""
    by_id: dict = {}
    fused: dict = {}
    for rows in (vector, keyword):
        for rank, row in enumerate(rows, start=1):
            kept = by_id.setdefault(row.pk, row)
            if kept is not row:  # in both lists: keep both scores on one object
                kept.keyword_score = row.keyword_score
            fused[row.pk] = fused.get(row.pk, 0.0) + 1.0 / (RRF_K + rank)
    for pk, row in by_id.items():
        row.fused_score = fused[pk]
    return sorted(
        by_id.values(),
        key=lambda row: (row.fused_score, row.similarity or 0.0),
        reverse=True,
    )


def _finish(
    rows: list[Memory], threshold: float | None, score_attr: str
) -> list[tuple[Memory, float]]:
    """Apply ``threshold`` to ``score_attr`` and pair each memory with it."""
    results = []
    for row in rows:
        row.fused_score = getattr(row, "fused_score", None)
        # No embedding (a keyword-only hit in hybrid mode): similarity 0.
        score = getattr(row, score_attr) or 0.0
        if threshold is not None and score < threshold:
            continue
        results.append((row, float(score)))
    return results
