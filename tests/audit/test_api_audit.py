"""REST audit log: filters, and one row per action without plaintext (who may
read it: ``tests/permissions/native_spaces.py``)."""

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AccessEvent
from memoryhub.db import run_batch, unflushed_commit
from tests.api_support import add_memory, memory_url, space_url

pytestmark = pytest.mark.django_db
SECRET_TEXT = "the launch code is 0000-aardvark"


def _audit(client, query: str = ""):
    response = client.get("/api/v1/audit/" + query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_every_action_is_audited_once_without_plaintext(cast):
    """Add, read, list, update, search, history, export, delete each leave a row."""
    client = cast.clients["writer"]
    created = client.post(
        space_url(cast.space, "memories/"),
        {"content": SECRET_TEXT, "metadata": {"note": SECRET_TEXT}},
        format="json",
    ).json()
    memory_id = created["id"]
    url = f"/api/v1/spaces/default/memories/{memory_id}/?team=acme"
    client.get(url)
    client.get(space_url(cast.space, "memories/"))
    client.patch(url, {"content": SECRET_TEXT + " v2"}, format="json")
    client.post(space_url(cast.space, "search/"), {"query": SECRET_TEXT}, format="json")
    client.get(f"/api/v1/spaces/default/memories/{memory_id}/history/?team=acme")
    b"".join(client.get(space_url(cast.space, "export/")).streaming_content)
    client.delete(url)

    events = AccessEvent.objects.filter(
        team_pk=cast.team.pk, surface="api", actor__startswith="key:"
    )
    actions = list(events.order_by("at", "id").values_list("action", flat=True))
    assert actions == [
        "memory.add", "memory.read", "memory.list", "memory.update",
        "memory.search", "memory.history", "memory.export", "memory.delete",
    ]  # fmt: skip
    for event in AccessEvent.objects.all():
        dumped = json.dumps(
            [event.actor, event.action, event.detail, event.space_slug], default=str
        )
        assert "aardvark" not in dumped


def test_audit_filters(cast):
    """space, action, since and team narrow the log; bad values are 400."""
    add_memory(cast.space, "one")
    memory = add_memory(cast.space, "two")
    owner = cast.clients["owner"]
    owner.get(memory_url(cast.space, memory))
    assert {e["action"] for e in _audit(owner, "?action=memory.read")} == {
        "memory.read"
    }
    assert {e["space"] for e in _audit(owner, "?space=default")} == {"default"}
    assert _audit(owner, "?space=elsewhere") != []  # space.create at setup
    future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _audit(owner, f"?since={future}") == []
    assert _audit(owner, "?team=other") == []
    assert owner.get("/api/v1/audit/?since=yesterday").status_code == 400
    assert owner.get("/api/v1/audit/?colour=red").status_code == 400


def test_audit_paginates_with_cursor(cast):
    """The audit log walks with next links, newest first."""
    for i in range(5):
        add_memory(cast.space, f"entry {i}")
    owner = cast.clients["owner"]
    url = "/api/v1/audit/?limit=2"
    seen = []
    while url:
        page = owner.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]
    assert seen == sorted(seen, reverse=True)
    assert (
        len(seen)
        == len(set(seen))
        == AccessEvent.objects.filter(team_pk=cast.team.pk).count()
    )


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_reads_audit_row_commits_unflushed_and_a_writes_with_the_write(
    cast, settings
):
    """A read's own audit transaction skips the WAL flush; a write's row does not."""
    memory = add_memory(cast.space, "audited fact")
    client = cast.clients["writer"]

    def audit_statements(call):
        with CaptureQueriesContext(connection) as captured:
            response = call()
        assert response.status_code in (200, 201), response.content
        return [q["sql"] for q in captured.captured_queries]

    read = audit_statements(lambda: client.get(memory_url(cast.space, memory)))
    # One statement string, one round trip: its own transaction, the SET LOCAL
    # and the row.
    assert read[-1].startswith(
        "BEGIN; SET LOCAL synchronous_commit = off; INSERT INTO memories_accessevent"
    )
    assert read[-1].endswith("; COMMIT")
    assert _synchronous_commit() == "on"  # SET LOCAL ended with its transaction
    write = audit_statements(
        lambda: client.post(
            space_url(cast.space, "memories/"), {"content": "new"}, format="json"
        )
    )
    assert any("memories_accessevent" in sql for sql in write)
    assert not any("synchronous_commit" in sql for sql in write)

    # With server-side binding (no multi-statement strings) it takes its own
    # transaction instead.
    options = connection.settings_dict["OPTIONS"]
    options["server_side_binding"] = True
    try:
        read = audit_statements(lambda: client.get(memory_url(cast.space, memory)))
    finally:
        del options["server_side_binding"]
    assert read[-3] == "SET LOCAL synchronous_commit = off"
    assert read[-2].startswith("INSERT INTO memories_accessevent")
    assert read[-1] == "COMMIT"
    settings.AUDIT_FLUSH_READS = True
    read = audit_statements(lambda: client.get(memory_url(cast.space, memory)))
    assert any("memories_accessevent" in sql for sql in read)
    assert not any("synchronous_commit" in sql for sql in read)
    assert AccessEvent.objects.filter(action="memory.read").count() == 3


@pytest.mark.django_db(transaction=True)
def test_unflushed_commit_applies_only_to_its_own_transaction():
    with unflushed_commit() as bracket, connection.cursor() as cursor:
        run_batch(cursor, bracket.first)
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"
    with transaction.atomic():
        with unflushed_commit() as bracket:  # nested: commits with the outer work
            assert bracket.first == []
            assert _synchronous_commit() == "on"
        assert _synchronous_commit() == "on"
