"""REST search: ranking with scores, filters, expiry, audit (its permission
matrix: ``tests/permissions/native_memories.py``)."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent
from memories.models import Memory
from tests.api_support import add_memory, space_url

pytestmark = pytest.mark.django_db


def _search(client, space, **body):
    return client.post(space_url(space, "search/"), body, format="json")


def test_search_ranks_and_scores(cast):
    """The closest memory comes first; every result has a score and the content."""
    add_memory(cast.space, "Alice is allergic to peanuts")
    add_memory(cast.space, "The office moved to Berlin in 2021")
    add_memory(cast.space, "Bob prefers aisle seats on flights")
    response = _search(
        cast.clients["viewer"], cast.space, query="food allergy", top_k=2
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert len(results) == 2
    assert results[0]["content"] == "Alice is allergic to peanuts"
    assert all(isinstance(r["score"], float) for r in results)
    assert {"id", "content", "user_id", "metadata", "hash"} <= set(results[0])


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_search_modes_and_filters(cast, mode):
    """Each mode honours the filter object."""
    add_memory(cast.space, "alice likes hiking in the alps", user_id="alice")
    add_memory(cast.space, "bob likes hiking in the andes", user_id="bob")
    response = _search(
        cast.clients["writer"],
        cast.space,
        query="hiking",
        mode=mode,
        filters={"user_id": "bob"},
    )
    assert response.status_code == 200, response.json()
    assert [r["user_id"] for r in response.json()["results"]] == ["bob"]


def test_threshold_drops_weak_results(cast):
    """A threshold above every score returns nothing."""
    add_memory(cast.space, "quantum chromodynamics lecture notes")
    response = _search(
        cast.clients["owner"], cast.space, query="banana bread", threshold=0.99
    )
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_search_skips_expired_and_deleted(cast):
    """Expired and deleted memories are never search results."""
    expired = add_memory(
        cast.space, "the wifi password is swordfish",
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    Memory.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    deleted = add_memory(cast.space, "the door code is swordfish too")
    cast.clients["owner"].delete(
        f"/api/v1/spaces/default/memories/{deleted.pk}/?team=acme"
    )
    response = _search(cast.clients["owner"], cast.space, query="swordfish password")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_search_is_audited_without_the_query(cast):
    """The audit row names the ids and mode, never the query text."""
    memory = add_memory(cast.space, "likes mango lassi")
    _search(cast.clients["writer"], cast.space, query="mango drink")
    event = AccessEvent.objects.filter(action="memory.search").latest("at")
    assert event.surface == "api"
    assert event.memory_ids == [memory.pk]
    assert event.actor.startswith("key:")
    assert "mango" not in str(event.detail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": 5}, "query"),
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": "3"}, "top_k"),
        ({"query": "x", "top_k": 10_000}, "top_k"),
        ({"query": "x", "threshold": "high"}, "threshold"),
        ({"query": "x", "mode": "fuzzy"}, "mode"),
        ({"query": "x", "filters": ["user_id"]}, "filters"),
        ({"query": "x", "filters": {"user_id": {"between": 1}}}, None),
        ({"query": "x", "limit": 3}, "limit"),
        ({"query": "x", "ef_search": 0}, "ef_search"),
        ({"query": "x", "ef_search": 1001}, "ef_search"),
        ({"query": "x", "ef_search": "400"}, "ef_search"),
        ({"query": "x", "ef_search": True}, "ef_search"),
        ({"query": "x", "ef_search": 2.5}, "ef_search"),
    ],
)
def test_bad_search_bodies_are_400(cast, body, field):
    """Every bad search input is a 400 naming the field, never a 500."""
    response = _search(cast.clients["owner"], cast.space, **body)
    assert response.status_code == 400, response.content
    error = response.json()
    if field:
        assert error["field"] == field
    else:
        assert error["field"].startswith("filters.")
    assert error["detail"]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_a_search_reads_the_index_at_the_depth_it_asks_for(cast, settings, mode):
    """``ef_search`` is in force when the statement reads the HNSW index,
    and the audit row records it; without it the server's default holds."""
    from django.db import connection

    settings.SEARCH_EXACT_MAX_ROWS = 0  # every scope through the index
    add_memory(cast.space, "Alice is allergic to peanuts")
    add_memory(cast.space, "Bob prefers aisle seats on flights")
    depths = []

    def record(execute, sql, params, many, context):
        if "<=>" in sql and "ORDER BY" in sql and not depths_lock.locked():
            with depths_lock, connection.cursor() as cursor:
                cursor.execute("SHOW hnsw.ef_search")
                depths.append(int(cursor.fetchone()[0]))
        return execute(sql, params, many, context)

    depths_lock = threading.Lock()
    with connection.execute_wrapper(record):
        asked = _search(
            cast.clients["viewer"], cast.space, query="peanut", mode=mode,
            ef_search=640,
        )  # fmt: skip
        plain = _search(cast.clients["viewer"], cast.space, query="peanut", mode=mode)
    assert asked.status_code == plain.status_code == 200, asked.json()
    assert asked.json()["results"][0]["content"] == "Alice is allergic to peanuts"
    assert depths and depths[0] == 640 and depths[-1] == settings.HNSW_EF_SEARCH
    event = AccessEvent.objects.filter(action="memory.search").order_by("at")
    assert [e.detail.get("ef_search") for e in event] == [640, None]


@pytest.fixture
def embed_log(monkeypatch):
    """What the search's embedding and space lookup did, in order: the
    thread each query was embedded on, and when the lookup ran."""
    from memories import embedding
    from memories.api import viewsets

    log: list[tuple[str, str]] = []
    real_embed, real_soon, real_lookup = (
        embedding.embed_texts,
        embedding.embed_soon,
        viewsets.space_get,
    )

    def embed_texts(texts):
        log.append(("embedded", threading.current_thread().name))
        return real_embed(texts)

    def embed_soon(text):
        log.append(("started", text))
        return real_soon(text)

    def space_get(**kwargs):
        log.append(("space", kwargs["slug"]))
        return real_lookup(**kwargs)

    monkeypatch.setattr(embedding, "embed_texts", embed_texts)
    monkeypatch.setattr(embedding, "embed_soon", embed_soon)
    monkeypatch.setattr(viewsets, "space_get", space_get)
    return log


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
def test_the_query_is_embedded_while_the_space_is_looked_up(cast, embed_log, mode):
    """The embedding starts before the space lookup, on a thread of its own,
    once; the search uses it and ranks as ever."""
    add_memory(cast.space, "Alice is allergic to peanuts")
    add_memory(cast.space, "The office moved to Berlin in 2021")
    embed_log.clear()  # the adds' own embeddings
    response = _search(
        cast.clients["viewer"], cast.space, query="food allergy", mode=mode
    )
    assert response.status_code == 200, response.json()
    assert response.json()["results"][0]["content"] == "Alice is allergic to peanuts"
    assert embed_log[:2] == [("started", "food allergy"), ("space", cast.space.slug)]
    embedded = [entry for entry in embed_log if entry[0] == "embedded"]
    assert len(embedded) == 1
    assert embedded[0][1].startswith("query-embed")


def test_a_keyword_search_embeds_nothing(cast, embed_log):
    add_memory(cast.space, "Alice is allergic to peanuts")
    embed_log.clear()
    response = _search(
        cast.clients["viewer"], cast.space, query="peanuts", mode="keyword"
    )
    assert response.status_code == 200, response.json()
    assert [r["content"] for r in response.json()["results"]] == [
        "Alice is allergic to peanuts"
    ]
    assert embed_log == [("space", cast.space.slug)]


def test_no_embedding_starts_for_a_caller_who_is_not_let_in(cast, embed_log):
    """Authentication comes first: an anonymous search embeds nothing."""
    response = _search(cast.clients["anonymous"], cast.space, query="peanuts")
    assert response.status_code == 401
    assert embed_log == []


def test_an_invisible_space_is_a_404_although_the_embedding_started(cast, embed_log):
    """An authenticated caller's embedding may start before the lookup; the
    lookup still answers, and the same 404 as for any missing space."""
    outsider = cast.clients["other_team_user"]
    url = "/api/v1/spaces/default/search/?team=acme"
    response = outsider.post(url, {"query": "x"}, format="json")
    assert response.status_code == 404, response.content
    assert ("started", "x") in embed_log
    missing = outsider.post(
        "/api/v1/spaces/default/search/?team=nosuchteam", {"query": "x"}, format="json"
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == response.json()["detail"]


def test_an_embedder_failure_on_the_early_thread_is_a_503(cast, monkeypatch):
    """The embedding's error reaches the client as it would have inline."""
    from memories import embedding
    from memories.embedders.base import EmbedderError

    def broken(texts):
        raise EmbedderError("the embedder at http://embedder:8080 is unreachable")

    monkeypatch.setattr(embedding, "embed_texts", broken)
    response = _search(cast.clients["viewer"], cast.space, query="anything")
    assert response.status_code == 503, response.content
    assert "embedder" in response.json()["detail"]


def test_a_body_that_is_not_json_is_a_400(cast):
    response = cast.clients["viewer"].post(
        space_url(cast.space, "search/"), "{query", content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "malformed JSON" in response.json()["detail"]
