"""Search ranking over a scoped queryset: vector, keyword and hybrid modes."""

import uuid

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone
from pgvector.django import CosineDistance

from memories.models import Memory
from memories.search import (
    KEYWORD_WEIGHT,
    MIN_CANDIDATES,
    Scope,
    _strong_query,
    search_memories,
)
from memoryhub.crypto.blind import blind_tokens

KEY = b"i" * 32
DIMS = 384


def unit(*weights: float) -> list[float]:
    """A unit vector whose first components are ``weights``."""
    vector = np.zeros(DIMS, dtype=np.float32)
    vector[: len(weights)] = weights
    return (vector / np.linalg.norm(vector)).tolist()


def tokens(text: str) -> list[str]:
    """Blind tokens of ``text`` under the test index key."""
    return blind_tokens(KEY, text)


@pytest.fixture
def add(space):
    """Create a memory with an embedding and the blind index of ``text``."""

    def create(text: str, embedding, target=None):
        return Memory.objects.create(
            space=target or space,
            content=b"sealed",
            content_mac=uuid.uuid4().bytes,
            keyword_index=" ".join(tokens(text)) or None,
            embedding=embedding,
        )

    return create


def run(space, mode, *, query_embedding=None, query="", top_k=10, threshold=None):
    """search_memories over ``space`` (the caller's scoping, simplified)."""
    return search_memories(
        queryset=Memory.objects.filter(space=space),
        query_embedding=query_embedding,
        query_tokens=tokens(query),
        top_k=top_k,
        threshold=threshold,
        mode=mode,
    )


@pytest.mark.django_db
def test_vector_mode_orders_by_cosine_and_thresholds_on_it(space, add):
    """Score is cosine similarity; threshold drops the rest."""
    near = add("a", unit(1, 0.1))
    mid = add("b", unit(1, 1))
    far = add("c", unit(0, 1))
    add("no embedding", None)
    hits = run(space, "vector", query_embedding=unit(1))
    assert [m.pk for m, _ in hits] == [near.pk, mid.pk, far.pk]
    scores = [score for _, score in hits]
    assert scores[0] == pytest.approx(1 / np.sqrt(1.01), abs=1e-5)
    assert scores[1] == pytest.approx(1 / np.sqrt(2), abs=1e-5)
    assert scores[2] == pytest.approx(0.0, abs=1e-5)
    above = run(space, "vector", query_embedding=unit(1), threshold=0.5)
    assert [m.pk for m, _ in above] == [near.pk, mid.pk]
    top1 = run(space, "vector", query_embedding=unit(1), top_k=1)
    assert [m.pk for m, _ in top1] == [near.pk]


@pytest.mark.django_db
def test_results_do_not_load_the_index_or_the_embedding(space, add):
    """Only the columns the caller needs are fetched."""
    add("alpine hiking", unit(1))
    for mode in ("vector", "keyword", "hybrid"):
        [(memory, _)] = run(space, mode, query_embedding=unit(1), query="hiking")
        assert {"embedding", "keyword_index"} <= memory.get_deferred_fields()


@pytest.mark.django_db
def test_keyword_mode_scores_the_share_of_query_words_found(space, add):
    """Coverage of distinct query tokens is the score and the order."""
    both = add("Hiking in the Alps every summer", unit(1))
    one = add("Hiking near the sea", unit(1))
    add("Cooking pasta", unit(1))
    hits = run(space, "keyword", query="alps hiking")
    assert [(m.pk, s) for m, s in hits] == [(both.pk, 1.0), (one.pk, 0.5)]
    strict = run(space, "keyword", query="alps hiking", threshold=0.75)
    assert [m.pk for m, _ in strict] == [both.pk]
    assert run(space, "keyword", query="the and of") == []


@pytest.mark.django_db
def test_hybrid_boosts_cosine_by_keyword_coverage(space, add):
    """Score is cosine + KEYWORD_WEIGHT * coverage (at most 1); it orders."""
    semantic = add("mountain trips", unit(1, 0.05))
    lexical = add("zermatt itinerary", unit(0.2, 1))
    both = add("zermatt mountain trips", unit(1, 0.3))
    add("unrelated", unit(0, 0, 1))
    hits = run(space, "hybrid", query_embedding=unit(1), query="zermatt")
    order = [m.pk for m, _ in hits]
    assert order[:3] == [both.pk, semantic.pk, lexical.pk]
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    by_id = {m.pk: (m, score) for m, score in hits}
    memory, score = by_id[lexical.pk]
    assert memory.keyword_score == 1.0
    assert score == pytest.approx(memory.similarity + KEYWORD_WEIGHT)
    assert score == memory.fused_score
    memory, score = by_id[semantic.pk]
    assert memory.keyword_score == 0.0
    assert score == pytest.approx(memory.similarity)  # no keyword: cosine as is
    assert by_id[both.pk][1] == 1.0  # capped
    # The threshold applies to the hybrid score.
    kept = run(space, "hybrid", query_embedding=unit(1), query="zermatt", threshold=0.9)
    assert {m.pk for m, _ in kept} == {semantic.pk, both.pk}


@pytest.mark.django_db
def test_hybrid_ignores_weak_coverage(space, add):
    """A third of the query's words earns no boost: vector order stands."""
    near = add("walking holidays", unit(1, 0.2))
    weak = add("zermatt", unit(1, 0.3))
    hits = run(space, "hybrid", query_embedding=unit(1), query="zermatt alps trek")
    assert [m.pk for m, _ in hits] == [near.pk, weak.pk]
    assert hits[1][0].keyword_score == pytest.approx(1 / 3)
    assert hits[1][1] == pytest.approx(hits[1][0].similarity)


def search_where(where, space, *, query, rare_words, top_k=10):
    """Hybrid search through the ORM (a queryset) or the hand-written
    statements (a scope), with the tokens of ``rare_words`` counted rare."""
    rare = frozenset(tokens(rare_words)) if rare_words else frozenset()
    assert rare <= set(tokens(query))
    scoping = (
        {"queryset": Memory.objects.filter(space=space)}
        if where == "queryset"
        else {"scope": Scope.of(space.pk, None, timezone.now())}
    )
    return search_memories(
        **scoping,
        query_embedding=unit(1),
        query_tokens=tokens(query),
        rare_tokens=rare,
        top_k=top_k,
        threshold=None,
        mode="hybrid",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["queryset", "scope"])
def test_a_partial_match_counts_only_rare_words(space, add, where):
    """Half the query's words held earns the boost only if they are rare:
    a shared common word is left to the embedding."""
    right = add("married to tariq", unit(1, 0.5))
    common = add("maple street family practice", unit(1, 0.6))
    hits = search_where(where, space, query="members family", rare_words="")
    assert [m.pk for m, _ in hits] == [right.pk, common.pk]
    assert hits[1][0].keyword_score == 0.0
    assert hits[1][1] == pytest.approx(hits[1][0].similarity)
    # The same memory lifted when the word it holds is rare.
    hits = search_where(where, space, query="members family", rare_words="family")
    assert [m.pk for m, _ in hits] == [common.pk, right.pk]
    assert hits[0][0].keyword_score == pytest.approx(0.5)
    assert hits[0][1] == pytest.approx(hits[0][0].similarity + KEYWORD_WEIGHT / 2)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["queryset", "scope"])
def test_a_one_word_query_of_a_common_word_is_left_to_the_embedding(space, add, where):
    """A memory holding the only word of a query earns nothing when that
    word is common ("living" of "What does she do for a living?" in "Father
    lives alone"): hybrid ranks as vector search, near candidates and far
    ones alike. The same word counted rare lifts it (a name, a code)."""
    for i in range(MIN_CANDIDATES + 5):
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i))  # cosine ~0.05
    right = add("ux researcher at a software company", unit(1, 1))  # cosine 0.71
    holder = add("father lives alone in tampere", unit(1, 1.2))  # cosine 0.64
    far = add("living room needs painting", unit(0, 0, 1))  # cosine 0
    hits = search_where(where, space, query="living", rare_words="", top_k=3)
    assert [m.pk for m, _ in hits][:2] == [right.pk, holder.pk]
    assert far.pk not in [m.pk for m, _ in hits]
    assert all(score == pytest.approx(m.similarity) for m, score in hits)
    hits = search_where(where, space, query="living", rare_words="living", top_k=3)
    assert [m.pk for m, _ in hits][:2] == [holder.pk, right.pk]
    assert far.pk in [m.pk for m, _ in hits]  # a strong hit beyond the candidates
    assert hits[0][1] == pytest.approx(hits[0][0].similarity + KEYWORD_WEIGHT)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["queryset", "scope"])
def test_every_word_held_counts_whatever_their_rarity(space, add, where):
    """A memory holding all the query's words gets the whole boost, also as
    a strong hit found beyond the vector candidates."""
    for i in range(MIN_CANDIDATES + 5):
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i))  # cosine ~0.05
    both = add("family members", unit(0, 0, 1))  # cosine 0
    add("family", unit(0, 0, 0, 1))  # one of two: not strong, not rare
    hits = search_where(where, space, query="members family", rare_words="", top_k=1)
    assert [m.pk for m, _ in hits] == [both.pk]
    assert hits[0][0].keyword_score == 1.0
    assert hits[0][1] == pytest.approx(KEYWORD_WEIGHT)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["queryset", "scope"])
def test_strong_hits_rank_by_the_boost_they_earn(space, add, where):
    """Of two strong hits beyond the vector candidates, each holding half the
    query's words, the one holding its rare words wins, though farther."""
    for i in range(MIN_CANDIDATES + 5):
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i))  # cosine ~0.05
    add("trip plan", unit(0.03, 0, 1))  # two common words: no boost
    rare = add("qx7plm zk9vw", unit(0, 0, 0, 1))  # cosine 0, two rare words
    hits = search_where(
        where, space, query="trip plan qx7plm zk9vw", rare_words="qx7plm zk9vw", top_k=1
    )
    assert [m.pk for m, _ in hits] == [rare.pk]
    assert hits[0][1] == pytest.approx(KEYWORD_WEIGHT / 2)


@pytest.mark.django_db
def test_hybrid_finds_strong_keyword_hits_beyond_vector_candidates(space, add):
    """A strong keyword hit far from the query vector still ranks."""
    for i in range(MIN_CANDIDATES + 5):
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i))  # cosine ~0.05
    add("zermatt", unit(0, 0, 1))  # one of two tokens only: not strong
    code = add("booking code qx7plm zermatt", unit(0, 0, 0, 1))  # cosine 0
    hits = run(
        space, "hybrid", query_embedding=unit(1), query="qx7plm zermatt", top_k=3
    )
    assert hits[0][0].pk == code.pk
    assert hits[0][1] == pytest.approx(KEYWORD_WEIGHT)  # cosine 0 + full coverage
    assert hits[0][0].keyword_score == 1.0
    # Long queries (too many AND-groups) still find rows with half the words.
    long = "qx7plm zermatt alpha bravo charlie delta echo foxtrot golf hotel"
    half = add("qx7plm zermatt alpha bravo charlie", unit(0, 0, 0, 0, 1))
    hits = run(space, "hybrid", query_embedding=unit(1), query=long, top_k=1)
    assert [m.pk for m, _ in hits] == [half.pk]


@pytest.mark.django_db
def test_too_many_strong_hits_leave_the_ranking_to_the_vectors(space, add, monkeypatch):
    """Past MAX_STRONG_ROWS keyword hits, far rows are not pulled in by words."""
    from memories import search as search_module

    for i in range(MIN_CANDIDATES + 5):
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i))  # cosine ~0.05
    far = {add(f"zermatt trip {i}", unit(0, 0, 1, 0.01 * i)).pk for i in range(4)}
    hits = run(space, "hybrid", query_embedding=unit(1), query="zermatt trip", top_k=1)
    assert hits[0][0].pk in far  # cosine 0 + full coverage beats the fillers
    monkeypatch.setattr(search_module, "MAX_STRONG_ROWS", 3)
    hits = run(space, "hybrid", query_embedding=unit(1), query="zermatt trip", top_k=1)
    assert hits[0][0].pk not in far  # 4 hits > 3: the words single nothing out


@pytest.mark.django_db
def test_strong_hits_need_a_word_that_is_not_common(space, add, monkeypatch):
    """Words PostgreSQL's statistics count in more than COMMON_TOKEN_ROWS
    memories make no strong hit by themselves; beside a rare word they do."""
    from memories import search as search_module

    monkeypatch.setattr(search_module, "_token_rows", {})
    monkeypatch.setattr(search_module, "COMMON_TOKEN_ROWS", 20)
    fillers = {
        add(f"filler note {i}", unit(0.05, 1, 0.01 * i)).pk
        for i in range(MIN_CANDIDATES + 5)
    }  # cosine ~0.05: the vector candidates
    far = {add(f"zermatt trip {i}", unit(0, 0, 1, 0.01 * i)).pk for i in range(30)}
    code = add("zermatt trip qx7plm", unit(0, 0, 0, 1))  # cosine 0
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Memory._meta.db_table}")
    query = tokens("zermatt trip qx7plm")
    assert search_module._common_tokens(query, "default") == frozenset(query[:2])
    # Only common words: no strong list (31 rows hold both; before the rule
    # they were strong hits, since 31 <= MAX_STRONG_ROWS).
    hits = run(space, "hybrid", query_embedding=unit(1), query="zermatt trip", top_k=3)
    assert {m.pk for m, _ in hits} <= fillers
    # A rare word beside them singles the memory out, far as it is.
    hits = run(
        space, "hybrid", query_embedding=unit(1), query="zermatt qx7plm", top_k=1
    )
    assert hits[0][0].pk == code.pk
    hits = run(
        space, "hybrid", query_embedding=unit(1), query="zermatt trip qx7plm", top_k=1
    )
    assert hits[0][0].pk == code.pk
    assert not far & {m.pk for m, _ in hits}


def test_strong_query_requires_a_rare_token():
    """Common tokens stay in the groups, but one rare token must match."""
    common = frozenset({"a", "b"})
    assert _strong_query(["a", "b"], common) is None
    assert _strong_query(["a", "c"], common) == "(c) & ((a & c))"
    assert _strong_query(["a", "b", "c"], common) == (
        "(c) & ((a & b) | (a & c) | (b & c))"
    )
    assert _strong_query(["c", "d"], common) == "(c & d)"


def test_strong_query_needs_half_the_tokens_and_at_least_two():
    """All of one or two tokens; else half (at least two), as AND-groups."""
    assert _strong_query(["a"]) == "(a)"
    assert _strong_query(["a", "b"]) == "(a & b)"
    assert _strong_query(["a", "b", "c"]) == "(a & b) | (a & c) | (b & c)"
    assert _strong_query(list("abcde")).count("|") == 9  # C(5, 3) groups
    assert _strong_query(list("abcdefghij")).count("|") == 44  # pairs: C(10, 2)


@pytest.mark.django_db
def test_hybrid_without_tokens_is_vector_search(space, add):
    """Only stopwords in the query: the vector list alone decides."""
    first = add("x", unit(1))
    add("y", unit(0, 1))
    hits = run(space, "hybrid", query_embedding=unit(1), query="the", top_k=1)
    assert [m.pk for m, _ in hits] == [first.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("iterative", [True, False], ids=["iterative", "single-pass"])
def test_selective_filter_still_finds_neighbours_through_hnsw(
    team, space, add, django_assert_num_queries, iterative
):
    """A filter the HNSW scan's first pass mostly misses: the iterative scan
    (pgvector 0.8, on for every connection) goes on until it has them; with
    a single pass, an exact scan fills in."""
    from tests.factories import make_space

    crowd = make_space(team, "crowd")
    rng = np.random.default_rng(7)
    for _ in range(300):
        add("crowd", (rng.normal(size=DIMS) + 40 * np.eye(DIMS)[0]).tolist(), crowd)
    mine = [add("mine", unit(0, 0, 1, 0.1 * i)) for i in range(3)]
    with connection.cursor() as cursor:  # make the planner pick the HNSW index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 3")  # a first pass of 3
        if not iterative:
            cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("SHOW hnsw.iterative_scan")
        assert cursor.fetchone()[0] == ("relaxed_order" if iterative else "off")
        sql, params = (
            Memory.objects.filter(space=space)
            .order_by(CosineDistance("embedding", unit(1)))[:3]
            .query.sql_with_params()
        )
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "memory_embedding_hnsw" in plan
    # HNSW, then exact. The iterative scan usually has them alone, but may
    # stop short on an index full of earlier tests' dead rows (its bounds).
    with django_assert_num_queries(2, exact=not iterative):
        hits = run(space, "vector", query_embedding=unit(1), top_k=3)
    assert {m.pk for m, _ in hits} == {m.pk for m in mine}


@pytest.mark.django_db
def test_vector_search_costs_no_query_per_result(space, add, django_assert_num_queries):
    """One SELECT: ef_search comes with the connection, no SET round trip.

    HNSW may come up short when the index still holds dead tuples of earlier
    tests' rolled-back rows; the exact re-run then adds a second query. More
    than that would mean a query per result.
    """
    for i in range(5):
        add(f"m{i}", unit(1, i))
    with django_assert_num_queries(2, exact=False):
        results = run(space, "vector", query_embedding=unit(1), top_k=3)
    assert len(results) == 3


@pytest.mark.django_db(transaction=True)
def test_ef_search_is_a_connection_default_raised_for_deep_searches(settings):
    """Connections start at HNSW_EF_SEARCH; a deeper LIMIT raises it locally."""
    from memories import search as search_module

    def ef_search():
        with connection.cursor() as cursor:
            cursor.execute("SHOW hnsw.ef_search")
            return int(cursor.fetchone()[0])

    assert ef_search() == settings.HNSW_EF_SEARCH
    seen = []
    with search_module._ef_search("default", settings.HNSW_EF_SEARCH):
        seen.append(ef_search())
    with search_module._ef_search("default", settings.HNSW_EF_SEARCH + 150):
        seen.append(ef_search())
    with search_module._ef_search("default", 5000):
        seen.append(ef_search())
    assert seen == [
        settings.HNSW_EF_SEARCH,
        settings.HNSW_EF_SEARCH + 150,
        search_module.MAX_EF_SEARCH,
    ]
    # SET LOCAL: gone with the block's transaction, so a pooled connection
    # never carries a raised value into the next request.
    assert ef_search() == settings.HNSW_EF_SEARCH


@pytest.mark.django_db(transaction=True)
def test_a_search_may_ask_for_its_own_ef_search(settings):
    """An ``ef`` of the caller's replaces the default for the block, lower
    or higher, but never below the rows asked of the index."""
    from memories import search as search_module

    def ef_search():
        with connection.cursor() as cursor:
            cursor.execute("SHOW hnsw.ef_search")
            return int(cursor.fetchone()[0])

    seen = []
    for limit, ef in [(10, 40), (10, 600), (40, 5), (10, 5000), (10, None)]:
        with search_module._ef_search("default", limit, ef):
            seen.append(ef_search())
    assert seen == [40, 600, 40, search_module.MAX_EF_SEARCH, settings.HNSW_EF_SEARCH]
    assert ef_search() == settings.HNSW_EF_SEARCH


@pytest.mark.django_db
def test_inside_a_transaction_the_depth_in_force_before_comes_back(settings):
    """In the caller's transaction (this test's) SET LOCAL would last to its
    end: after each block the value before it is in force again, nested
    blocks included, so a later search in that transaction gets its own."""
    from memories import search as search_module

    def ef_search():
        with connection.cursor() as cursor:
            cursor.execute("SHOW hnsw.ef_search")
            return int(cursor.fetchone()[0])

    assert connection.in_atomic_block
    seen = []
    with search_module._ef_search("default", 10, 600):
        seen.append(ef_search())
        with search_module._ef_search("default", 10, 40):
            seen.append(ef_search())
        seen.append(ef_search())
    seen.append(ef_search())
    assert seen == [600, 40, 600, settings.HNSW_EF_SEARCH]


@pytest.mark.django_db(transaction=True)
def test_without_startup_options_every_search_sets_ef_search(settings):
    """MEMORYHUB_DB_STARTUP_OPTIONS=false (PgBouncer): the search sets it."""
    from memories import search as search_module

    settings.DB_STARTUP_OPTIONS = False
    settings.HNSW_EF_SEARCH = 150  # the connection itself started with 200
    with search_module._ef_search("default", 10), connection.cursor() as cursor:
        cursor.execute("SHOW hnsw.ef_search")
        assert int(cursor.fetchone()[0]) == 150


def test_bad_arguments_are_programming_errors():
    """Unknown modes and non-token strings are refused before any query."""
    with pytest.raises(ValueError, match="mode must be one of"):
        search_memories(
            queryset=None,
            query_embedding=None,
            query_tokens=[],
            top_k=1,
            threshold=None,
            mode="fuzzy",
        )
    with pytest.raises(ValueError, match="blind-index tokens"):
        search_memories(
            queryset=None,
            query_embedding=None,
            query_tokens=["a | b"],
            top_k=1,
            threshold=None,
            mode="keyword",
        )
