"""REST memory endpoints: dedupe, history, expiry, erasure (their permission
matrix: ``tests/permissions/native_memories.py``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent
from memories.models import Memory, MemoryEvent, MemoryState
from tests.api_support import add_memory, memory_url, space_url
from tests.factories import make_space

pytestmark = pytest.mark.django_db


def test_same_slug_in_another_team_is_a_different_space(cast):
    """Without ?team=, the other team's key reaches its own 'default' space only."""
    mine = add_memory(cast.space, "acme private")
    client = cast.clients["other_team"]
    response = client.get(f"/api/v1/spaces/{cast.space.slug}/memories/")
    assert response.status_code == 200
    assert response.json()["results"] == []
    response = client.get(f"/api/v1/spaces/default/memories/{mine.pk}/")
    assert response.status_code == 404


# --- behaviour ------------------------------------------------------------------------


def test_dedupe_returns_existing_memory_with_200(cast):
    """Same content in the same scope: 200 and the same id; another user: new."""
    client = cast.clients["writer"]
    url = space_url(cast.space, "memories/")
    tea = {"content": "Likes green tea", "user_id": "alice"}
    first = client.post(url, tea, format="json")
    again = client.post(url, tea, format="json")
    other = client.post(url, {**tea, "user_id": "bob"}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


def test_memory_json_shape(cast):
    """The memory JSON carries every documented field, content decrypted."""
    client = cast.clients["member"]
    response = client.post(
        space_url(cast.space, "memories/"),
        {
            "content": "Prefers window seats",
            "user_id": "alice",
            "agent_id": "travel-bot",
            "app_id": "trips",
            "run_id": "r1",
            "metadata": {"source": "chat", "priority": 3},
            "categories": ["travel", "preferences"],
            "expires_at": "2099-01-01T00:00:00Z",
            "immutable": False,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id", "space", "content", "user_id", "agent_id", "app_id", "run_id",
        "metadata", "categories", "state", "expires_at", "immutable", "version",
        "hash", "created_at", "updated_at",
    }  # fmt: skip
    assert body["content"] == "Prefers window seats"
    assert body["space"] == "default"
    assert body["metadata"] == {"source": "chat", "priority": 3}
    assert body["categories"] == ["travel", "preferences"]
    assert body["expires_at"].startswith("2099-01-01")
    memory = Memory.objects.get(pk=body["id"])
    assert body["hash"] == bytes(memory.content_mac).hex()
    assert b"window seats" not in bytes(memory.content)


def test_list_filters_by_query_parameters(cast):
    """user_id, category, state and created_* narrow the list."""
    add_memory(cast.space, "alice travel", user_id="alice", categories=["travel"])
    add_memory(cast.space, "alice food", user_id="alice", categories=["food"])
    add_memory(cast.space, "bob travel", user_id="bob", categories=["travel"])
    client = cast.clients["viewer"]
    url = space_url(cast.space, "memories/")

    def contents(query):
        response = client.get(url + query)
        assert response.status_code == 200, response.json()
        return sorted(m["content"] for m in response.json()["results"])

    assert contents("&user_id=alice") == ["alice food", "alice travel"]
    assert contents("&user_id=alice&category=travel") == ["alice travel"]
    assert contents("&created_after=2000-01-01T00:00:00Z") == [
        "alice food",
        "alice travel",
        "bob travel",
    ]
    assert contents("&created_before=2000-01-01T00:00:00Z") == []
    assert contents("&state=archived") == []


def test_cursor_pagination_walks_every_row_once(cast):
    """Following next links yields each memory exactly once."""
    ids = {str(add_memory(cast.space, f"memory number {i}").pk) for i in range(7)}
    client = cast.clients["owner"]
    url = space_url(cast.space, "memories/") + "&limit=3"
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["results"]) <= 3
        seen += [m["id"] for m in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(ids)


def test_query_endpoint_uses_filter_language(cast):
    """POST .../memories/query/ takes the full filter object."""
    add_memory(cast.space, "high", metadata={"priority": 5})
    add_memory(cast.space, "low", metadata={"priority": 1})
    response = cast.clients["viewer"].post(
        space_url(cast.space, "memories/query/"),
        {"filters": {"priority": {"gte": 3}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [m["content"] for m in response.json()["results"]] == ["high"]


def test_batch_reports_each_item(cast):
    """Batch results are per item, in order; bad items do not stop good ones."""
    add_memory(cast.space, "already here")
    response = cast.clients["writer"].post(
        space_url(cast.space, "memories/batch/"),
        {
            "items": [
                {"content": "fresh one"},
                {"content": "already here"},
                {"content": 42},
                {"content": "x", "userid": "typo"},
                {"content": "fresh one"},
                {"content": "   "},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created", "duplicate", "error", "error", "duplicate", "error",
    ]  # fmt: skip
    assert [r["index"] for r in results] == list(range(6))
    assert results[4]["id"] == results[0]["id"]
    assert results[2]["field"] == "content"
    assert "userid" in results[3]["error"]
    assert results[5]["field"] == "content"


def test_update_records_history_and_bumps_version(cast):
    """Add, update and delete each leave a history event with old/new content."""
    client = cast.clients["member"]
    created = client.post(
        space_url(cast.space, "memories/"), {"content": "v one"}, format="json"
    )
    memory_id = created.json()["id"]
    url = f"/api/v1/spaces/default/memories/{memory_id}/?team=acme"
    patched = client.patch(url, {"content": "v two"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["content"] == "v two"
    assert patched.json()["version"] == 2
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    history = client.get(
        f"/api/v1/spaces/default/memories/{memory_id}/history/?team=acme"
    )
    assert history.status_code == 200
    events = [
        (e["event"], e["old_content"], e["new_content"])
        for e in history.json()["results"]
    ]
    assert events == [
        ("ADD", None, "v one"),
        ("UPDATE", "v one", "v two"),
        ("DELETE", "v two", None),
    ]


def test_put_resets_omitted_fields(cast):
    """PUT replaces content and resets metadata/categories/expiry."""
    memory = add_memory(
        cast.space, "old", metadata={"a": 1}, categories=["x"], user_id="u"
    )
    response = cast.clients["owner"].put(
        memory_url(cast.space, memory), {"content": "new"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["content"], body["metadata"], body["categories"]) == ("new", {}, [])
    assert body["user_id"] == "u"


def test_immutable_memory_cannot_change(cast):
    """Updating an immutable memory is a 409 with an actionable message."""
    memory = add_memory(cast.space, "carved in stone", immutable=True)
    response = cast.clients["owner"].patch(
        memory_url(cast.space, memory), {"content": "changed"}, format="json"
    )
    assert response.status_code == 409
    assert "immutable" in response.json()["detail"]
    assert response.json()["code"] == "conflict"


def test_expected_version_mismatch_is_409(cast):
    """Optimistic locking: a stale version is a conflict."""
    memory = add_memory(cast.space, "versioned")
    response = cast.clients["owner"].patch(
        memory_url(cast.space, memory),
        {"content": "next", "expected_version": 7},
        format="json",
    )
    assert response.status_code == 409
    assert "version" in response.json()["detail"]


def test_expired_memories_are_hidden(cast):
    """Past their expiry, memories vanish from get and list."""
    memory = add_memory(
        cast.space, "short lived", expires_at=timezone.now() + timedelta(hours=1)
    )
    Memory.objects.filter(pk=memory.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = cast.clients["owner"]
    assert client.get(memory_url(cast.space, memory)).status_code == 404
    listed = client.get(space_url(cast.space, "memories/")).json()["results"]
    assert listed == []


def test_hard_delete_erases_memory_and_history(cast):
    """?hard=true removes the row and its history for good."""
    memory = add_memory(cast.space, "forget me")
    response = cast.clients["owner"].delete(
        memory_url(cast.space, memory, query="&hard=true")
    )
    assert response.status_code == 204
    assert not Memory.objects.filter(pk=memory.pk).exists()
    assert not MemoryEvent.objects.filter(memory_id=memory.pk).exists()
    assert AccessEvent.objects.filter(
        action="memory.erase", memory_ids__contains=[memory.pk], surface="api"
    ).exists()


def test_erase_a_user_by_filter(cast):
    """Bulk hard delete by user_id erases all of that user's rows, deleted too."""
    alice = [add_memory(cast.space, f"alice {i}", user_id="alice") for i in range(3)]
    bob = add_memory(cast.space, "bob keeps this", user_id="bob")
    cast.clients["owner"].delete(memory_url(cast.space, alice[0]))  # soft first
    response = cast.clients["owner"].post(
        space_url(cast.space, "memories/delete/"),
        {"filters": {"user_id": "alice"}, "hard": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"deleted": 3}
    assert not Memory.objects.filter(user_id="alice").exists()
    assert not MemoryEvent.objects.filter(memory_id__in=[m.pk for m in alice]).exists()
    assert Memory.objects.filter(pk=bob.pk, state=MemoryState.ACTIVE).exists()


def test_bulk_delete_requires_a_condition(cast):
    """An empty filter would delete everything: it is refused."""
    add_memory(cast.space, "survivor")
    response = cast.clients["owner"].post(
        space_url(cast.space, "memories/delete/"), {"filters": {}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "filters"
    assert Memory.objects.filter(state=MemoryState.ACTIVE).count() == 1


def test_soft_deleted_memories_listed_only_on_request(cast):
    """state=deleted lists soft-deleted memories; the default hides them."""
    memory = add_memory(cast.space, "soft gone")
    client = cast.clients["owner"]
    client.delete(memory_url(cast.space, memory))
    url = space_url(cast.space, "memories/")
    assert client.get(url).json()["results"] == []
    deleted = client.get(url + "&state=deleted").json()["results"]
    assert [m["id"] for m in deleted] == [str(memory.pk)]


def test_new_space_retention_sets_default_expiry(cast):
    """A space's retention_days gives new memories an expiry."""
    space = make_space(cast.team, "short", retention_days=2)
    response = cast.clients["owner"].post(
        space_url(space, "memories/"), {"content": "retained"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["expires_at"] is not None


@pytest.mark.parametrize("expires", [None, timedelta(days=3)])
def test_memory_representation_matches_the_fields(cast, expires):
    """The hand-built response dict equals what the declared fields produce."""
    from rest_framework import serializers

    from memories.api.serializers import MemorySerializer, ScoredMemorySerializer
    from memories.encryption.sealing import memories_decrypt

    memory = add_memory(
        cast.space,
        "prefers tea to coffee",
        user_id="alice",
        agent_id="planner",
        metadata={"n": 1, "tags": ["a", "b"], "nested": {"x": None}},
        categories=["food"],
        expires_at=None if expires is None else timezone.now() + expires,
        immutable=True,
    )
    memory = Memory.objects.get(pk=memory.pk)
    memories_decrypt([memory], cast.space)
    memory.score = 0.5
    for cls in (MemorySerializer, ScoredMemorySerializer):
        serializer = cls(context={"space": cast.space})
        by_fields = serializers.Serializer.to_representation(serializer, memory)
        assert serializer.to_representation(memory) == dict(by_fields)
