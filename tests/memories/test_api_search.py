"""REST search: ranking with scores, filters, expiry, audit (its permission
matrix: ``tests/permissions/native_memories.py``)."""

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
