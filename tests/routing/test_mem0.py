"""The ``mem0`` backend: a real ``mem0.Memory`` on the embedded PostgreSQL, offline
(replication, routed search, and its change feed from mem0's history store)."""

import sqlite3

import pytest

from accounts.actors import SYSTEM
from memories import services as memory_services
from memories.services import erasure
from routing import selectors, services
from routing.backends.changes import InvalidCursor, cursor_encode
from routing.backends.registry import adapter_for
from routing.models import ExternalRef
from tests.factories import BackendFactory
from tests.routing_helpers import add, deliver_all, drain

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.usefixtures("fresh_routing"),
]


def test_mem0_backend_replicates_and_serves_searches(space):
    backend = BackendFactory(
        name="oss",
        kind="mem0",
        timeout_seconds=60,
        config={"collection": "mh_routing_test"},
    )
    services.rule_create(
        actor=SYSTEM,
        name="oss",
        write_backends=["oss"],
        read_strategy="primary",
        read_backends=["oss"],
    )
    tea = add(space, "Alice prefers green tea", user_id="alice")
    cat = add(space, "Alice owns a black cat", user_id="alice")
    deliver_all()
    deliver_all()  # idempotent: nothing left, nothing duplicated
    memory = adapter_for(backend).memory
    stored = memory.get_all(filters={"user_id": "alice"})["results"]
    assert sorted(item["memory"] for item in stored) == [
        "Alice owns a black cat",
        "Alice prefers green tea",
    ]
    found, info = selectors.route_search(
        actor=SYSTEM,
        space=space,
        query="what does alice drink",
        filters={"user_id": "alice"},
        top_k=1,
    )
    assert [m.pk for m in found] == [tea.pk] and info["strategy"] == "primary"

    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=tea.pk, content="Alice prefers oolong"
    )
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=cat.pk, hard=True)
    deliver_all()
    stored = memory.get_all(filters={"user_id": "alice"})["results"]
    assert [item["memory"] for item in stored] == ["Alice prefers oolong"]
    assert stored[0]["metadata"]["memoryhub_id"] == str(tea.pk)
    assert ExternalRef.objects.filter(backend=backend).count() == 1


def test_mem0_feed_reads_the_history_store(space, tmp_path):
    """Adds, updates and deletes from mem0's own history, a page at a time;
    a cursor survives only as long as the history it points into."""
    history = tmp_path / "history.db"
    backend = BackendFactory(
        name="oss-feed",
        kind="mem0",
        timeout_seconds=60,
        config={"collection": "mh_routing_feed", "history_path": str(history)},
    )
    services.rule_create(actor=SYSTEM, name="feed", write_backends=["oss-feed"])
    tea = add(space, "Bob drinks green tea", user_id="bob")
    cat = add(space, "Bob owns a black cat", user_id="bob")
    deliver_all()
    refs = dict(
        ExternalRef.objects.filter(backend=backend).values_list(
            "memory_id", "external_id"
        )
    )
    adapter = adapter_for(backend)
    page = adapter.changes_since(None, limit=1)
    assert page.more and len(page.changes) == 1
    rest, pages, cursor = drain(adapter, page.cursor, limit=1)
    assert pages == 1
    changes = page.changes + rest
    assert len(changes) == 2
    # In the order the deliveries reached mem0 (deliver_all has none).
    assert {(c.external_id, c.op, c.memory_id) for c in changes} == {
        (refs[tea.pk], "upsert", str(tea.pk)),
        (refs[cat.pk], "upsert", str(cat.pk)),
    }
    assert adapter.changes_since(cursor).changes == []

    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=tea.pk, metadata={"cup": "large"}
    )
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=cat.pk, hard=True)
    deliver_all()
    changes, _, cursor = drain(adapter, cursor)
    assert {(c.external_id, c.op, c.memory_id) for c in changes} == {
        (refs[tea.pk], "upsert", str(tea.pk)),
        (refs[cat.pk], "delete", None),
    }
    assert len(changes) == 2
    assert "green tea" not in cursor

    with pytest.raises(InvalidCursor):
        adapter.changes_since(cursor_encode("local", {}))
    with sqlite3.connect(history) as db:  # the history store is replaced
        db.execute("DELETE FROM history")
    with pytest.raises(InvalidCursor, match="no longer holds"):
        adapter.changes_since(cursor)
