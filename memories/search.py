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
    The vector ranking is the backbone and keywords add a bounded boost::

        score = min(1, cosine + KEYWORD_WEIGHT * coverage)   (coverage >= 0.5)
        score = cosine                                        (otherwise)

    where ``coverage`` is 1 for a memory holding every distinct token of the
    query, and otherwise the fraction of the tokens it holds that come from
    *rare* words (``rare_tokens``: the caller's judgement, see
    :mod:`memories.keywords`; words rare in English). A query of one token
    from a common word has no keyword part at all: holding it is no
    evidence, and hybrid search is vector search for it. Candidates are the
    ``max(4 * top_k, 40)`` nearest memories plus the best *strong* keyword
    hits anywhere in the queryset (rows holding every token of a one- or
    two-token query, or at least half of a longer query's tokens, never
    fewer than two, one of them not among the space's common words) when
    there are at most ``MAX_STRONG_ROWS`` of them; the two lists are read
    at once, the strong one on another connection where the caller is
    outside a transaction (:func:`memoryhub.db.beside`). Results are
    ordered by that score (descending; ties by cosine) and ``threshold``
    applies to it.
    A memory with no keyword evidence therefore scores exactly as in vector
    mode, so a threshold means the same in both modes for it; a keyword
    match can lift a memory by at most ``KEYWORD_WEIGHT``.

    Why this and not reciprocal rank fusion: on the labelled retrieval set
    (``benchmarks/bench_retrieval.py``) the queries are mostly paraphrases
    that share few words with their memory, so a keyword *rank* list is
    mostly noise and RRF demoted the right vector answers (R@1 0.57 vs 0.68).
    A bounded boost keeps the vector order unless a memory holds a good
    share of the query's words, which is what decides rare-term and code
    queries. Two parameters only: the weight (0.1-0.2 all give the same
    recall there; 0.15 is the middle of that plateau) and the 0.5 coverage
    gate (a third of the words, e.g. one of "field", "university", "his"
    stems, lifted wrong answers in paraphrases). A partial match counts
    only rare words because that is what the embedding misses — a name, a
    code; a common word it shares ("family" of "Who are the members of her
    family?" in "Maple Street Family Practice") is the embedding's to judge,
    and lifted wrong answers over right ones.

Every returned memory also carries ``similarity``, ``keyword_score``
(coverage) and ``fused_score`` (the hybrid score) attributes (``None``
where they do not apply: ``keyword_score`` in vector mode, ``fused_score``
outside hybrid mode).

Most searches are a space's active, unexpired memories, maybe narrowed by
subject ids: a :class:`Scope`. Their vector list is one hand-written
statement (no query compilation per request, the rows built straight from
it); any other candidate set comes as a queryset and goes through the ORM.

When the vector list comes back short (a selective filter left fewer than
``LIMIT`` rows after the index scan; pgvector before 0.8 has no iterative
index scan) it is re-run as a scan of every matching row that cannot use
the HNSW index, which is cheap precisely because few rows match. A scope's
scan ranks the rows' binary codes (the embedding's signs, 48 bytes) by
Hamming distance and re-ranks the best by cosine (``_scan_statement``):
every row that exists is returned up to ``LIMIT``, in exact cosine order
among the candidates.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import combinations

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections, transaction
from django.db.models import Case, F, FloatField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from pgvector import Vector
from pgvector.django import CosineDistance
from pgvector.psycopg.vector import VectorBinaryDumper
from psycopg.pq import TransactionStatus

from memories.models import Memory, MemoryState, expired_q
from memories.search_index import CODES_COLUMN, codes_ready
from memoryhub.db import (
    beside,
    fetch_bound,
    model_from_row,
    supports_iterative_scan,
)

MODES = ("vector", "keyword", "hybrid")
MIN_CANDIDATES = 40
KEYWORD_WEIGHT = 0.15  # the most a keyword match adds to a cosine similarity
MIN_COVERAGE = 0.5  # coverage below this earns no boost
MAX_STRONG_TERMS = 70  # AND-groups in a strong-hit tsquery (C(8, 4) = 70)
MAX_STRONG_ROWS = 1000  # more strong hits than this: the words are too common
MAX_QUERY_TOKENS = 64
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
RERANK_PER_RESULT = 10  # binary-code candidates re-ranked by cosine per result
DEFERRED = ("keyword_index", "embedding")
_TOKEN = re.compile(r"[0-9a-z]{1,64}")


SUBJECT_FIELDS = ("user_id", "agent_id", "app_id", "run_id")


@dataclass(frozen=True)
class Scope:
    """The candidate set of most searches: the active memories of one space
    not expired at ``now``, with ``subjects`` (subject id -> value) equal.

    :func:`search_memories` ranks its vector list with one hand-written
    statement; :meth:`queryset` is the same set for everything else.
    """

    space_id: int
    now: datetime
    subjects: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, space_id: int, filters: dict | None, now: datetime) -> Scope | None:
        """The scope of ``filters`` if they are only subject-id equalities
        (``{"user_id": "alice"}``), else None (the filter language decides)."""
        filters = filters or {}
        if not isinstance(filters, dict) or not all(
            key in SUBJECT_FIELDS and isinstance(value, str) and value != "*"
            for key, value in filters.items()
        ):
            return None
        return cls(space_id=space_id, now=now, subjects=dict(filters))

    def queryset_lazily(self) -> QuerySet[Memory]:
        """:meth:`queryset`, built on first use (a vector search never uses
        it; routing does when a rule sends the search elsewhere)."""
        return _LazyQuerySet(self)

    def queryset(self) -> QuerySet[Memory]:
        return (
            Memory.objects.filter(
                space_id=self.space_id, state=MemoryState.ACTIVE, **self.subjects
            )
            .exclude(expired_q(self.now))
            .defer(*DEFERRED)
        )

    def where(
        self, *, embedded: bool = True, column: str = "embedding"
    ) -> tuple[str, list]:
        """The SQL condition and its parameters (``embedded``: only rows with
        an embedding, tested on ``column``: the embedding or its code, which
        is null exactly when the embedding is)."""
        sql = [
            "space_id = %s",
            "state = %s",
            "(expires_at IS NULL OR expires_at > %s)",
        ]
        if embedded:
            sql.append(f'"{column}" IS NOT NULL')  # a fixed name, never input
        params: list = [self.space_id, MemoryState.ACTIVE.value, self.now]
        for name in SUBJECT_FIELDS:  # fixed names, never input
            if name in self.subjects:
                sql.append(f"{name} = %s")
                params.append(self.subjects[name])
        return " AND ".join(sql), params


def search_memories(
    *,
    queryset: QuerySet[Memory] | None = None,
    scope: Scope | None = None,
    query_embedding,
    query_tokens: list[str],
    top_k: int,
    threshold: float | None,
    mode: str,
    rare_tokens: frozenset[str] | None = None,
    ef_search: int | None = None,
) -> list[tuple[Memory, float]]:
    """Rank ``queryset`` (or ``scope``) against the query; returns
    ``[(memory, score)]``.

    ``query_embedding`` (384 floats, unit length) is needed for vector and
    hybrid mode; ``query_tokens`` (blind tokens) for keyword and hybrid mode,
    ``rare_tokens`` those of them from rare words (hybrid coverage; None:
    all of them).
    Hybrid search with no tokens is vector search. See the module docstring
    for what the score and ``threshold`` mean in each mode. ``ef_search``:
    the HNSW index's search depth for this search instead of
    ``settings.HNSW_EF_SEARCH`` (raised to the rows asked of the index when
    below; a scope ranked without the index ignores it).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    tokens = _clean_tokens(query_tokens) if mode != "vector" else []
    if (queryset is None) == (scope is None):
        raise ValueError("rank a queryset or a scope, one of them")
    if queryset is None:
        queryset = scope.queryset_lazily()
    if mode == "keyword":
        if not tokens:
            return []
        hits = _keyword_list(queryset, tokens, top_k)
        return _finish(hits, threshold, "keyword_score")
    if query_embedding is None:
        raise ValueError(f"{mode} search needs a query embedding")
    rare = frozenset(tokens) if rare_tokens is None else frozenset(rare_tokens)
    if len(tokens) == 1 and tokens[0] not in rare:
        # One word, and a common one: holding it says nothing the embedding
        # does not ("living" of "What does she do for a living?" in "Father
        # lives alone in Tampere"), so the vector ranking decides alone.
        tokens = []
    depth = top_k if mode == "vector" or not tokens else max(4 * top_k, MIN_CANDIDATES)
    nearest = (
        _vector_list(queryset, query_embedding, depth, tokens, rare)
        if scope is None
        else _scope_vector_list(scope, query_embedding, depth, tokens, rare)
    )
    with _ef_search(Memory.objects.db, depth, ef_search):
        if mode == "vector" or not tokens:
            return _finish(nearest()[:top_k], threshold, "similarity")
        # The two lists are independent: the keyword one runs on another
        # connection meanwhile where it can (memoryhub.db.beside).
        strong_list, strong_args = (
            (_strong_list, (queryset, tokens, rare, top_k, query_embedding))
            if scope is None
            else (_scope_strong_list, (scope, tokens, rare, top_k, query_embedding))
        )
        pending = beside(strong_list, *strong_args)
        vector = nearest()
        strong = pending.result() if pending is not None else strong_list(*strong_args)
    return _finish(_combine(vector, strong)[:top_k], threshold, "fused_score")


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
def _ef_search(using: str, limit: int, ef: int | None = None) -> Iterator[None]:
    """Make ``hnsw.ef_search`` ``ef`` (default ``settings.HNSW_EF_SEARCH``),
    at least ``limit``, for the block, and the iterative scan settings in
    force.

    Every connection starts with ``settings.HNSW_SETTINGS`` (connection
    options, see settings): ``ef_search`` covers the usual ``top_k``, and
    then this costs nothing. Without startup options
    (``MEMORYHUB_DB_STARTUP_OPTIONS=false``) every search sets them. Any
    other depth is set for one transaction by ``set_config(..., true)``
    (``SET LOCAL``), so pooled connections never keep it; inside the
    caller's transaction (no savepoint is opened) what was in force before
    is set again after the block, so a later search there gets its own.
    ef_search must be at least the LIMIT for the index to return that many
    rows in one pass.
    """
    wanted = settings.HNSW_EF_SEARCH if ef is None else ef
    depth = min(MAX_EF_SEARCH, max(wanted, limit))
    if settings.DB_STARTUP_OPTIONS and depth == settings.HNSW_EF_SEARCH:
        yield
        return
    connection = connections[using]
    values = {"hnsw.ef_search": str(depth)}
    if not settings.DB_STARTUP_OPTIONS and supports_iterative_scan(using):
        # Where pgvector predates 0.8 the "hnsw" prefix is its own and an
        # unknown name under it is an error (a startup option only warns).
        values = {**settings.HNSW_SETTINGS, **values}
    if not connection.in_atomic_block:
        with transaction.atomic(using):
            _set_local(using, values)
            yield
        return
    # Inside the caller's transaction a SET LOCAL would outlast the block:
    # what was in force is put back after it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["current_setting(%s, true)"] * len(values)),
            list(values),
        )
        before = {
            name: value
            for name, value in zip(values, cursor.fetchone(), strict=True)
            if value is not None  # not defined yet (pgvector not loaded)
        }
    _set_local(using, values)
    try:
        yield
    finally:
        # Not in a transaction that failed: it cannot run a statement, and
        # its settings go with it.
        status = connection.connection.info.transaction_status
        if before and not (
            connection.needs_rollback or status == TransactionStatus.INERROR
        ):
            _set_local(using, before)


def _set_local(using: str, values: dict[str, str]) -> None:
    """``SET LOCAL`` each of ``values`` (one round trip)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values)),
            [part for item in values.items() for part in item],
        )


def _coverage(tokens: list[str], rare: frozenset[str] | None = None) -> RawSQL:
    """SQL expression: the share of ``tokens`` present in ``keyword_index``;
    with ``rare``, hybrid search's coverage (module doc): 1 when all are
    present, else the share of those in ``rare`` present.

    Raw SQL rather than a ``Case``/``When`` on a ``SearchQuery`` per token:
    the ORM compiles those anew wherever the expression appears (select
    list, filter, sort key), which cost a hybrid search several
    milliseconds. The tokens are parameters (and checked by
    :func:`_clean_tokens`).
    """
    column = f'"{Memory._meta.db_table}"."keyword_index"'
    probe = f"CASE WHEN {column} @@ to_tsquery('simple', %s) THEN 1.0 ELSE 0.0 END"
    count = float(len(tokens))
    held = f"({' + '.join([probe] * len(tokens))})"
    if rare is None or rare.issuperset(tokens):
        sql = f"({held} / {count})"
        return RawSQL(sql, list(tokens), output_field=FloatField())  # noqa: S611
    counted = [token for token in tokens if token in rare]
    partial = f"({' + '.join([probe] * len(counted))}) / {count}" if counted else "0.0"
    sql = f"(CASE WHEN {held} >= {count} THEN 1.0 ELSE {partial} END)"
    return RawSQL(sql, [*tokens, *counted], output_field=FloatField())  # noqa: S611


class _LazyQuerySet:
    """A scope's queryset, built only if something asks for it (most vector
    searches never do)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._queryset = None

    def __getattr__(self, name):
        if self._queryset is None:
            self._queryset = self._scope.queryset()
        return getattr(self._queryset, name)


def _vector_list(
    queryset: QuerySet[Memory],
    embedding,
    limit: int,
    tokens: list[str],
    rare: frozenset[str],
):
    """A thunk of :func:`_vector_rows` (run inside the ``ef_search`` block)."""
    return lambda: _vector_rows(queryset, embedding, limit, tokens, rare)


def _vector_rows(
    queryset: QuerySet[Memory],
    embedding,
    limit: int,
    tokens: list[str],
    rare: frozenset[str],
) -> list[Memory]:
    """The ``limit`` nearest memories by cosine distance, nearest first.

    ``ORDER BY embedding <=> q LIMIT n`` alone, so the HNSW index can serve
    it (a second sort key would rule the index out). With ``tokens`` each
    row also gets its keyword ``coverage`` (evaluated only for the rows the
    LIMIT keeps: a few tsvector probes per row).
    """
    base = (
        queryset.filter(embedding__isnull=False)
        .defer(*DEFERRED)
        .annotate(distance=CosineDistance("embedding", embedding))
    )
    if tokens:
        base = base.annotate(coverage=_coverage(tokens, rare))
    # An iterative index scan in relaxed order (pgvector 0.8) may return
    # rows slightly out of order: sorted again here.
    rows = sorted(base.order_by("distance")[:limit], key=lambda row: row.distance)
    if len(rows) < limit:
        # Possibly starved by filters after the index scan: "+ 0" makes the
        # sort key an expression no index provides, so this scan is exact.
        rows = list(base.order_by(F("distance") + Value(0.0))[:limit])
    for row in rows:
        row.similarity = 1.0 - row.distance
        row.keyword_score = getattr(row, "coverage", None)
    return rows


@cache
def _row_fields() -> tuple[list, str]:
    """The fields a ranked row carries (all but the deferred embedding and
    keyword index), in the model's order, and their quoted columns."""
    fields = [f for f in Memory._meta.concrete_fields if f.name not in DEFERRED]
    assert fields[0].primary_key  # _Candidate.pk reads it there
    return fields, ", ".join(f'"{f.column}"' for f in fields)


def _scope_vector_list(
    scope: Scope, embedding, limit: int, tokens: list[str], rare: frozenset[str]
):
    """:func:`_vector_rows` for a :class:`Scope`, as one plain statement.

    The inner ``ORDER BY distance LIMIT n`` is what the HNSW index serves;
    the outer one puts rows an iterative index scan returns in relaxed order
    (pgvector 0.8) back in exact order. The query embedding goes as a binary
    parameter (:func:`memoryhub.db.fetch_bound`) and the rows become models
    without a queryset. A short list is run again exactly.

    The scan of a scope's rows ranks their binary codes from the
    ``memory_space_codes`` index and re-ranks the best by cosine
    (:func:`_scan_statement`); where the table has no codes (pgvector before
    0.7) it ranks the embeddings exactly (:func:`_exact_statement`). Both
    read only the winners' rows in full.
    """
    _, columns = _row_fields()
    where, params = scope.where()
    vector = Vector(embedding)
    coverage = _coverage(tokens, rare) if tokens else None
    select = f"{columns}, embedding <=> %s::vector AS distance"
    select_params: list = [vector]
    extra = ["distance"]
    if coverage is not None:
        select += f", {coverage.sql} AS coverage"
        select_params += list(coverage.params)
        extra.append("coverage")
    table = Memory._meta.db_table

    def rows(exact: bool) -> list[Memory]:
        if exact and codes_ready(Memory.objects.db):
            sql, before = _scan_statement(scope.where(column=CODES_COLUMN)[0], coverage)
            values = [*before, vector, vector, *params, _candidates(limit), limit]
        elif exact:
            sql, before = _exact_statement(where, coverage)
            values = [*before, vector, *params, limit]
        else:
            # Names are the model's own; every value is a parameter.
            sql = (
                f"SELECT * FROM (SELECT {select} FROM {table} WHERE {where} "  # noqa: S608
                "ORDER BY distance LIMIT %s) AS nearest ORDER BY distance"
            )
            values = [*select_params, *params, limit]
        fetched = fetch_bound(sql, values, dumpers=[(Vector, VectorBinaryDumper)])
        return _ranked_rows(fetched, extra)

    def nearest() -> list[Memory]:
        if _few_rows(scope):
            return rows(exact=True)
        found = rows(exact=False)
        if len(found) < limit:
            found = rows(exact=True)  # see _vector_rows
        return found

    return nearest


@cache
def _qualified_columns() -> str:
    """:func:`_row_fields`' columns, named with their table."""
    table = Memory._meta.db_table
    return ", ".join(f'"{table}"."{f.column}"' for f in _row_fields()[0])


def _exact_statement(where: str, coverage: RawSQL | None) -> tuple[str, list]:
    """The exact nearest-rows statement of a scope's ``where``, and the
    parameters that come before the query vector (the coverage's).

    Its innermost query scores every candidate's embedding and returns ids
    alone; ``OFFSET 0`` keeps it a separate query, so no index can provide
    the order and the scan is exact. Its columns (space, user, state,
    expiry, id, embedding) are all in the ``memory_space_vectors`` index:
    for a space or a user, PostgreSQL reads them with an index-only scan,
    consecutive index pages, instead of one heap page per row (at a million
    memories a user's 10,000 rows lie on 10,000 pages). The rows themselves
    are read for the ``LIMIT`` winners only, and their keyword coverage
    computed there. Parameters after the coverage's: the query vector, the
    ``where``'s, the limit.
    """
    table = Memory._meta.db_table
    pk = Memory._meta.pk.column
    # Names are the model's own; every value is a parameter.
    scored = (
        f'SELECT "{pk}", embedding <=> %s::vector AS distance '  # noqa: S608
        f"FROM {table} WHERE {where}"
    )
    return _winners(scored, coverage)


def _winners(scored: str, coverage: RawSQL | None) -> tuple[str, list]:
    """The statement reading the rows of the ``LIMIT`` nearest of ``scored``
    (ids and distances, kept a separate query by ``OFFSET 0``: no index
    provides its order), with the coverage's parameters."""
    table = Memory._meta.db_table
    pk = Memory._meta.pk.column
    scores = "nearest.distance"
    if coverage is not None:
        scores += f", {coverage.sql} AS coverage"
    sql = (
        f"SELECT {_qualified_columns()}, {scores} FROM {table} JOIN ("  # noqa: S608
        f'SELECT "{pk}", distance FROM ({scored} OFFSET 0) AS scored '
        f'ORDER BY distance LIMIT %s) AS nearest ON "{table}"."{pk}" = nearest."{pk}" '
        "ORDER BY nearest.distance"
    )
    return sql, list(coverage.params) if coverage is not None else []


def _scan_statement(where: str, coverage: RawSQL | None) -> tuple[str, list]:
    """:func:`_exact_statement` in two stages, where the table has binary
    codes (:func:`memories.search_index.add_binary_codes`).

    The first ranks the scope's codes (48 bytes each, the embedding's signs)
    by Hamming distance from the query's and keeps the best
    :func:`_candidates`; ``where`` is the scope's condition on the code
    column, so for a space or a user every column it reads is in
    ``memory_space_codes`` (an index-only scan of about 170 pages for a
    10,000-memory user, against 2,500 pages of whole embeddings). The
    second computes the candidates' cosine distances from their rows and
    keeps the ``LIMIT`` nearest, whose columns (and keyword coverage) are
    read last. With no more rows than candidates the result is exact;
    above, the default's 200 candidates held 99.8% of the exact nearest ten
    of 10,000-memory users at a million memories (README, "Search").
    Parameters after the coverage's: the query vector twice, the
    ``where``'s, the number of candidates, the limit.
    """
    table = Memory._meta.db_table
    pk = Memory._meta.pk.column
    # Names are the model's own; every value is a parameter.
    scored = (
        f'SELECT "{pk}", embedding <=> %s::vector AS distance '  # noqa: S608
        f'FROM {table} WHERE "{pk}" IN (SELECT "{pk}" FROM ('
        f'SELECT "{pk}", "{CODES_COLUMN}" <~> binary_quantize(%s::vector) AS hamming '
        f"FROM {table} WHERE {where} OFFSET 0) AS coded ORDER BY hamming LIMIT %s)"
    )
    return _winners(scored, coverage)


def _candidates(limit: int) -> int:
    """How many rows the codes pick for re-ranking by cosine, for ``limit``
    results: ``MEMORYHUB_SEARCH_RERANK_CANDIDATES`` at least, and
    ``RERANK_PER_RESULT`` per result."""
    return max(settings.SEARCH_RERANK_CANDIDATES, RERANK_PER_RESULT * limit)


def _few_rows(scope: Scope) -> bool:
    """Whether the scope's candidates are few enough that an exact scan of
    them beats the HNSW index (``MEMORYHUB_SEARCH_EXACT_MAX_ROWS``).

    Measured, not estimated: the rows of the space (and user, whose index
    makes that count cheap) are counted up to the limit, and the count is
    kept for a minute per process (it decides a plan, not what is found:
    a stale one costs time, never results). Other subject ids have no index
    to count by; their search starts with the HNSW index (an iterative scan
    on pgvector 0.8), and the exact scan follows when it comes back short.
    """
    limit = settings.SEARCH_EXACT_MAX_ROWS
    if limit <= 0 or set(scope.subjects) - {"user_id"}:
        return False
    key = (scope.space_id, scope.subjects.get("user_id"))
    now = time.monotonic()
    cached = _sizes.get(key)
    if cached is None or now - cached[1] > SIZE_SECONDS:
        where = "space_id = %s" + (" AND user_id = %s" if key[1] is not None else "")
        params = [key[0], *([key[1]] if key[1] is not None else []), limit + 1]
        with connections[Memory.objects.db].cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {Memory._meta.db_table} "  # noqa: S608
                f"WHERE {where} LIMIT %s) AS capped",
                params,
            )
            cached = (cursor.fetchone()[0], now)
        if len(_sizes) >= MAX_SIZES:
            _sizes.clear()  # a crude bound; the counts come back one query each
        _sizes[key] = cached
    return cached[0] <= limit


SIZE_SECONDS = 60
MAX_SIZES = 10_000
_sizes: dict[tuple, tuple[int, float]] = {}


def _strong_query(
    tokens: list[str], common: frozenset[str] = frozenset()
) -> str | None:
    """A raw tsquery matching rows that hold enough of ``tokens`` to be
    strong, or None when no row can be (every token is ``common``).

    A strong hit holds every token of a one- or two-token query, else at
    least half of them (and at least two): ``(a & b) | (a & c) | ...`` over
    the required subsets, so GIN only returns rows that already qualify
    instead of every row holding one common word. When that would take more
    than ``MAX_STRONG_TERMS`` groups (nine or more tokens), the pairs are
    used and coverage is checked on the rows they find.

    A strong hit must also hold at least one token that is not ``common``
    (:func:`_common_tokens`): a memory that shares only frequent words with
    the query is what the vector list is for, and requiring a rare word
    lets GIN walk the rare tokens' short posting lists and merely probe the
    long ones, instead of reading every long one to the end (at a million
    memories that was most of a hybrid search's time).
    """
    rare = [token for token in tokens if token not in common]
    if not rare:
        return None
    needed = _strong_count(len(tokens))
    if math.comb(len(tokens), needed) > MAX_STRONG_TERMS:
        needed = 2
    groups = " | ".join(
        "(" + " & ".join(group) + ")" for group in combinations(tokens, needed)
    )
    if len(rare) == len(tokens):
        return groups
    return f"({' | '.join(rare)}) & ({groups})"


def _common_tokens(tokens: list[str], using: str) -> frozenset[str]:
    """The ``tokens`` that PostgreSQL's statistics put in more than
    ``COMMON_TOKEN_ROWS`` memories.

    ANALYZE keeps the most frequent lexemes of the keyword index with their
    frequencies (``pg_stats.most_common_elems``); a blind token belongs to
    one space (tokens are keyed per space), so frequency times the table's
    rows is its count in its space. Read at most every ``STATS_SECONDS``
    per process. A token missing from the statistics (new, or never
    analyzed) counts as rare: that costs time, never results.
    """
    now = time.monotonic()
    cached = _token_rows.get(using)
    if cached is None or now - cached[1] > STATS_SECONDS:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT s.most_common_elems::text, s.most_common_elem_freqs, "
                "c.reltuples FROM pg_stats s JOIN pg_class c "
                "ON c.oid = to_regclass(quote_ident(s.schemaname) || '.' || "
                "quote_ident(s.tablename)) "
                "WHERE s.schemaname = current_schema() AND s.tablename = %s "
                "AND s.attname = %s",
                [Memory._meta.db_table, Memory._meta.get_field("keyword_index").column],
            )
            row = cursor.fetchone()
        counts: dict[str, float] = {}
        if row is not None and row[0] and row[1]:
            elems = row[0].strip("{}").split(",")
            # The frequencies end with the minimum, maximum and null fraction.
            for token, freq in zip(elems, row[1], strict=False):
                counts[token] = float(freq) * max(float(row[2]), 0.0)
        cached = _token_rows[using] = (counts, now)
    counts = cached[0]
    return frozenset(t for t in tokens if counts.get(t, 0.0) > COMMON_TOKEN_ROWS)


COMMON_TOKEN_ROWS = MAX_STRONG_ROWS  # a token in more memories is common
STATS_SECONDS = 300
_token_rows: dict[str, tuple[dict[str, float], float]] = {}


def _strong_count(count: int) -> int:
    """How many of ``count`` query tokens a strong keyword hit must hold."""
    return count if count <= 2 else max(2, math.ceil(count * MIN_COVERAGE))


def _strong_list(
    queryset: QuerySet[Memory],
    tokens: list[str],
    rare: frozenset[str],
    limit: int,
    embedding,
) -> list[Memory]:
    """The ``limit`` best strong keyword hits by hybrid score, best first.

    Only rows matching :func:`_strong_query` are fetched and scored, so a
    common word no longer drags every row that holds it into a ranking;
    since they are ordered by the final score, the top ``limit`` of them are
    all that can reach the final top ``limit``. Rows without an embedding
    score their keyword boost alone.

    The hits are first listed by id alone (one GIN lookup, stopped at
    ``MAX_STRONG_ROWS + 1``); when there are more, the query's words are
    common in the candidate set and single nothing out, so there is no strong
    list (the vector candidates still get their keyword boost) — scoring tens
    of thousands of rows would cost more than the whole search should.
    """
    strong = _strong_query(tokens, _common_tokens(tokens, queryset.db))
    if strong is None:
        return []
    query = SearchQuery(strong, search_type="raw", config="simple")
    hits = list(
        queryset.filter(keyword_index=query)
        .order_by()
        .values_list("pk", flat=True)[: MAX_STRONG_ROWS + 1]
    )
    if not hits or len(hits) > MAX_STRONG_ROWS:
        return []
    needed = _strong_count(len(tokens)) / len(tokens)
    qs = (
        Memory.objects.filter(pk__in=hits)
        .defer(*DEFERRED)
        .annotate(
            coverage=_coverage(tokens, rare),
            distance=CosineDistance("embedding", embedding),
        )
    )
    if rare.issuperset(tokens):  # the coverage is the share held
        qs = qs.filter(coverage__gte=needed - 1e-9)
    else:
        qs = qs.annotate(held=_coverage(tokens)).filter(held__gte=needed - 1e-9)
    boost = Case(
        When(coverage__gte=MIN_COVERAGE, then=Value(KEYWORD_WEIGHT) * F("coverage")),
        default=Value(0.0),
    )
    score = boost - Coalesce(F("distance"), Value(1.0))  # the hybrid score's order
    rows = list(qs.order_by(score.desc(), "-created_at")[:limit])
    for row in rows:
        row.keyword_score = row.coverage
        row.similarity = None if row.distance is None else 1.0 - row.distance
    return rows


def _scope_strong_list(
    scope: Scope, tokens: list[str], rare: frozenset[str], limit: int, embedding
) -> list[Memory]:
    """:func:`_strong_list` for a :class:`Scope`, as one statement: the GIN
    lookup (stopped at ``MAX_STRONG_ROWS + 1``), its count, and the scoring
    of its rows when there are no more than ``MAX_STRONG_ROWS``."""
    strong = _strong_query(tokens, _common_tokens(tokens, Memory.objects.db))
    if strong is None:
        return []
    _, columns = _row_fields()
    where, params = scope.where(embedded=False)
    coverage = _coverage(tokens, rare)
    # The share of tokens held decides who is strong; when every token is
    # rare that is the coverage itself.
    held = None if rare.issuperset(tokens) else _coverage(tokens)
    needed = _strong_count(len(tokens)) / len(tokens)
    table = Memory._meta.db_table
    vector = Vector(embedding)
    # Names are the model's own; every value is a parameter. The order is
    # the hybrid score's (:func:`_boosted`).
    sql = (
        f"WITH hits AS MATERIALIZED (SELECT id FROM {table} WHERE {where} "  # noqa: S608
        "AND keyword_index @@ to_tsquery('simple', %s) LIMIT %s), "
        f"scored AS (SELECT {columns}, embedding <=> %s::vector AS distance, "
        f"{coverage.sql} AS coverage"
        f"{'' if held is None else f', {held.sql} AS held'} FROM {table} "
        "WHERE id IN (SELECT id FROM hits) AND (SELECT count(*) FROM hits) <= %s) "
        f"SELECT {columns}, distance, coverage FROM scored "
        f"WHERE {'coverage' if held is None else 'held'} >= %s ORDER BY "
        "CASE WHEN coverage >= %s THEN %s * coverage ELSE 0 END "
        "- coalesce(distance, 1) DESC, created_at DESC LIMIT %s"
    )
    fetched = fetch_bound(
        sql,
        [
            *params,
            strong,
            MAX_STRONG_ROWS + 1,
            vector,
            *coverage.params,
            *([] if held is None else held.params),
            MAX_STRONG_ROWS,
            needed - 1e-9,
            MIN_COVERAGE,
            KEYWORD_WEIGHT,
            limit,
        ],
        dumpers=[(Vector, VectorBinaryDumper)],
    )
    return _ranked_rows(fetched, ["distance", "coverage"])


def _ranked_rows(fetched: list[tuple], extra: list[str]) -> list[_Candidate]:
    """Candidates from rows of :func:`_row_fields` followed by the ``extra``
    scores, with ``similarity`` and ``keyword_score`` as a queryset's rows
    get them here (numeric scores come as Decimals: made floats)."""
    count = len(_row_fields()[0])
    rows = []
    for values in fetched:
        row = _Candidate(values[:count])
        for name, value in zip(extra, values[count:], strict=True):
            setattr(row, name, None if value is None else float(value))
        row.similarity = None if row.distance is None else 1.0 - row.distance
        row.keyword_score = row.coverage
        rows.append(row)
    return rows


class _Candidate:
    """A ranked row whose model is built only if it is kept.

    A hybrid search ranks 40 or more rows to return ``top_k``; turning each
    into a model (its fields' conversions, ``Model.from_db``) cost about a
    millisecond a search for rows that were then dropped. The scores are
    plain attributes here; :meth:`memory` makes the model with them.
    """

    __slots__ = (
        "coverage",
        "distance",
        "fused_score",
        "keyword_score",
        "similarity",
        "values",
    )

    def __init__(self, values: tuple) -> None:
        self.values = values
        self.distance = self.coverage = self.fused_score = None

    @property
    def pk(self):
        return self.values[0]  # the model's fields start with its primary key

    def memory(self) -> Memory:
        memory = model_from_row(Memory, _row_fields()[0], self.values)
        for name in ("distance", "coverage", "similarity", "keyword_score"):
            setattr(memory, name, getattr(self, name))
        return memory


def _keyword_list(
    queryset: QuerySet[Memory], tokens: list[str], limit: int
) -> list[Memory]:
    """Memories holding any token, best coverage first, then by ``ts_rank``."""
    any_token = SearchQuery(" | ".join(tokens), search_type="raw", config="simple")
    qs = (
        queryset.filter(keyword_index=any_token)
        .defer(*DEFERRED)
        .annotate(
            coverage=_coverage(tokens),
            rank=SearchRank(F("keyword_index"), any_token),
        )
    )
    rows = list(qs.order_by("-coverage", "-rank", "-created_at")[:limit])
    for row in rows:
        row.keyword_score = row.coverage
        row.similarity = None
    return rows


def _combine(vector: list[Memory], strong: list[Memory]) -> list[Memory]:
    """Union of both candidate lists (one object per memory) by hybrid score."""
    by_id: dict = {}
    for row in (*vector, *strong):
        by_id.setdefault(row.pk, row)
    for row in by_id.values():
        row.fused_score = _hybrid_score(row.similarity, row.keyword_score)
    return sorted(
        by_id.values(),
        key=lambda row: (
            _boosted(row.similarity, row.keyword_score),
            row.similarity or 0.0,
        ),
        reverse=True,
    )


def _boosted(similarity: float | None, coverage: float | None) -> float:
    """Cosine plus the keyword boost, unclamped (the sort key)."""
    boost = KEYWORD_WEIGHT * coverage if coverage and coverage >= MIN_COVERAGE else 0.0
    return (similarity or 0.0) + boost


def _hybrid_score(similarity: float | None, coverage: float | None) -> float:
    """The returned hybrid score: :func:`_boosted`, at most 1."""
    return min(1.0, _boosted(similarity, coverage))


def _finish(
    rows: list[Memory], threshold: float | None, score_attr: str
) -> list[tuple[Memory, float]]:
    """Apply ``threshold`` to ``score_attr`` and pair each memory with it."""
    results = []
    for row in rows:
        fused = getattr(row, "fused_score", None)
        if isinstance(row, _Candidate):
            row = row.memory()
        row.fused_score = fused
        # No embedding (a keyword-only hit in hybrid mode): similarity 0.
        score = getattr(row, score_attr) or 0.0
        if threshold is not None and score < threshold:
            continue
        results.append((row, float(score)))
    return results
