"""REST export (JSON Lines stream) and import: round trip, bad lines (their
permission matrix: ``tests/permissions/native_memories.py``)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent
from memories.models import Memory
from tests.api_support import add_memory, space_url
from tests.factories import make_space
from tests.permission_matrix import response_text

pytestmark = pytest.mark.django_db
NDJSON = "application/x-ndjson"


def _lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def _export(client, space) -> list[dict]:
    response = client.get(space_url(space, "export/"))
    assert response.status_code == 200
    assert response["Content-Type"] == NDJSON
    assert response.streaming
    return [json.loads(line) for line in response_text(response).splitlines()]


def _import(client, space, body: str, content_type: str = NDJSON):
    return client.generic(
        "POST", space_url(space, "import/"), body, content_type=content_type
    )


def test_export_import_round_trip(cast):
    """Exported lines import into another space with identical fields."""
    add_memory(
        cast.space,
        "Alice likes jazz",
        user_id="alice",
        agent_id="dj",
        metadata={"genre": "jazz", "n": 1},
        categories=["music"],
        expires_at=timezone.now() + timedelta(days=3),
    )
    add_memory(cast.space, "Bob likes opera", user_id="bob", immutable=True)
    client = cast.clients["owner"]
    exported = _export(client, cast.space)
    assert sorted(row["content"] for row in exported) == [
        "Alice likes jazz",
        "Bob likes opera",
    ]
    target = make_space(cast.team, "copy")
    body = "".join(json.dumps(row) + "\n" for row in exported)
    response = _import(client, target, body, content_type="application/jsonl")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2
    assert response.json()["errors"] == 0

    def comparable(rows):
        keep = ("content", "user_id", "agent_id", "metadata", "categories",
                "immutable", "expires_at")  # fmt: skip
        return sorted(tuple(json.dumps(r[k]) for k in keep) for r in rows)

    assert comparable(_export(client, target)) == comparable(exported)
    # Importing the same lines again deduplicates instead of copying.
    again = _import(client, target, body).json()
    assert (again["created"], again["duplicates"]) == (0, 2)


def test_import_reports_bad_lines_and_keeps_good_ones(cast):
    """Each bad line is reported with its number; good lines are stored."""
    body = (
        json.dumps({"content": "good one"}) + "\n"
        "{not json\n"
        "\n"
        + json.dumps(["a", "list"]) + "\n"
        + json.dumps({"content": "x", "colour": "red"}) + "\n"
        + json.dumps({"content": 7}) + "\n"
        + json.dumps({"content": "nul \u0000 inside"}) + "\n"
        + json.dumps({"content": "good two", "user_id": "u"}) + "\n"
        "\xff\xfe\n"
    )  # fmt: skip
    response = _import(cast.clients["writer"], cast.space, body)
    assert response.status_code == 200, response.json()
    result = response.json()
    by_line = {r["line"]: r for r in result["results"]}
    assert sorted(by_line) == [1, 2, 4, 5, 6, 7, 8, 9]
    assert by_line[1]["status"] == by_line[8]["status"] == "created"
    assert "malformed JSON" in by_line[2]["error"]
    assert "JSON object" in by_line[4]["error"]
    assert by_line[5]["field"] == "colour"
    assert by_line[6]["field"] == "content"
    assert by_line[7]["field"] == "content"
    assert by_line[9]["status"] == "error"
    assert (result["created"], result["errors"]) == (2, 6)
    assert Memory.objects.filter(space=cast.space).count() == 2


def test_import_larger_than_a_chunk(cast, settings):
    """Imports are added in chunks of MEMORY_MAX_BATCH, none lost."""
    settings.MEMORY_MAX_BATCH = 4
    body = _lines(*({"content": f"item {i}"} for i in range(10)))
    response = _import(cast.clients["owner"], cast.space, body)
    assert response.status_code == 200
    assert response.json()["created"] == 10
    assert [r["line"] for r in response.json()["results"]] == list(range(1, 11))


def test_import_needs_json_lines_content_type(cast):
    """A JSON body is a 415 naming the media type problem."""
    response = cast.clients["owner"].post(
        space_url(cast.space, "import/"), {"content": "x"}, format="json"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_export_skips_expired_and_deleted_and_is_audited(cast):
    """Export holds live memories only and leaves one audit row (no content)."""
    live = add_memory(cast.space, "alive and well")
    gone = add_memory(cast.space, "deleted soon")
    old = add_memory(
        cast.space, "expired", expires_at=timezone.now() + timedelta(hours=1)
    )
    Memory.objects.filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
    client = cast.clients["owner"]
    client.delete(f"/api/v1/spaces/default/memories/{gone.pk}/?team=acme")
    rows = _export(client, cast.space)
    assert [row["id"] for row in rows] == [str(live.pk)]
    event = AccessEvent.objects.get(action="memory.export")
    assert (event.count, event.memory_ids, event.surface) == (1, [live.pk], "api")
    assert "alive" not in json.dumps(event.detail)
