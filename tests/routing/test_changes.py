"""``changes_since``: the canonical store's change feed, the official MCP
memory server's (a graph without timestamps), cursor validation and the
operators' API. The mem0 and mem0-platform feeds are tested with their real
backends in ``test_mem0.py`` and ``test_hub.py``."""

import datetime as dt

import pytest

from accounts.actors import SYSTEM
from memories import services as memory_services
from memories.models import Memory
from memories.services import erasure
from routing import selectors, services
from routing.backends.base import PermanentError
from routing.backends.changes import (
    OVERLAP_SECONDS,
    InvalidCursor,
    cursor_encode,
)
from routing.backends.registry import adapter_for
from routing.breaker import breaker_for
from routing.models import CircuitState
from tests.conftest import client_for_user
from tests.factories import UserFactory
from tests.routing_helpers import (
    add,
    deliver_all,
    drain,
    graph_call,
    mcp_backend,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]

CHANGES_URL = "/api/v1/routing/backends/{}/changes/"


@pytest.fixture
def local():
    return adapter_for(selectors.LOCAL_BACKEND)


def ops(changes) -> list[tuple[str, str]]:
    return [(change.memory_id, change.op) for change in changes]


# --- the canonical store --------------------------------------------------------------


def test_local_feed_pages_adds_updates_deletes_and_erasures(space, local):
    """Rows by updated_at (soft deletes as deletes), then erasures from the
    audit log; bounded pages; once caught up, nothing repeats."""
    first, second, third = (add(space, f"fact {n}", seed=n + 1) for n in range(3))
    page = local.changes_since(None, limit=2)
    assert ops(page.changes) == [(str(first.pk), "upsert"), (str(second.pk), "upsert")]
    assert page.more and page.changes[0].detail == {"space": str(space.uuid)}
    rest, pages, cursor = drain(local, page.cursor, limit=2)
    assert ops(rest) == [(str(third.pk), "upsert")] and pages == 1
    assert local.changes_since(cursor).changes == []

    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=first.pk, metadata={"tier": "gold"}
    )
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=second.pk)
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=third.pk, hard=True)
    changes, _, cursor = drain(local, cursor, limit=1)
    assert ops(changes) == [
        (str(first.pk), "upsert"),
        (str(second.pk), "delete"),
        (str(third.pk), "delete"),
    ]
    assert changes[2].detail == {"space": str(space.uuid), "erased": True}
    assert drain(local, cursor)[0] == []


def test_local_feed_rereads_the_overlap_for_late_commits(space, local):
    """A row whose timestamp is older than what was already reported (its
    transaction committed late) still arrives, once."""
    add(space, "early", seed=1)
    _, _, cursor = drain(local)
    late = add(space, "committed late", seed=2)
    reported = Memory.objects.order_by("-updated_at").values_list(
        "updated_at", flat=True
    )[1]
    Memory.objects.filter(pk=late.pk).update(
        updated_at=reported - dt.timedelta(seconds=OVERLAP_SECONDS / 2)
    )
    changes, _, cursor = drain(local, cursor)
    assert ops(changes) == [(str(late.pk), "upsert")]
    assert drain(local, cursor)[0] == []


def test_local_feed_reports_expiry_archives_and_sweep_erasures(space, local, settings):
    """Expiry's writes reach the feed: an expired duplicate archived by an
    add comes back as an upsert, and the sweep's erasures as erased deletes."""
    settings.EXPIRED_RETENTION_DAYS = 2
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    duplicate = add(space, "door code 4321", seed=1, expires_at=soon)
    old = add(space, "old door code", seed=2)
    _, _, cursor = drain(local)
    now = dt.datetime.now(dt.UTC)
    Memory.objects.filter(pk=duplicate.pk).update(expires_at=now - dt.timedelta(1))
    Memory.objects.filter(pk=old.pk).update(expires_at=now - dt.timedelta(3))

    fresh = add(space, "door code 4321", seed=3)
    assert erasure.memories_expire_sweep() == 1
    changes, _, cursor = drain(local, cursor)
    assert ops(changes) == [
        (str(duplicate.pk), "upsert"),
        (str(fresh.pk), "upsert"),
        (str(old.pk), "delete"),
    ]
    assert changes[2].detail == {"space": str(space.uuid), "erased": True}
    assert drain(local, cursor)[0] == []


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        cursor_encode("mcp_memory", {"e": {}}),  # another kind's cursor
        cursor_encode("local", {"m": {"t": "yesterday"}}),
        cursor_encode("local", {"m": {"t": 1, "s": [["x", 1]]}}),
    ],
)
def test_a_cursor_the_backend_did_not_issue_is_refused(local, cursor):
    with pytest.raises(InvalidCursor, match="pass no cursor to start"):
        local.changes_since(cursor)


def test_a_truncated_cursor_is_refused(space, local):
    add(space, "something", seed=1)
    cursor = local.changes_since(None).cursor
    with pytest.raises(InvalidCursor):
        local.changes_since(cursor[:-6])


@pytest.mark.parametrize("limit", [0, 1001, "5", True, 2.5])
def test_page_limits_are_bounded(local, limit):
    with pytest.raises(PermanentError, match="limit must be an integer from 1 to"):
        local.changes_since(None, limit=limit)


# --- the official MCP memory server -------------------------------------------------


@pytest.mark.slow
def test_graph_feed_compares_snapshots_of_entities(space, tmp_path):
    """No timestamps in a graph: the cursor is a snapshot; entities added,
    changed (by anyone) or removed since are reported, a page at a time."""
    backend = mcp_backend(tmp_path)
    services.rule_create(actor=SYSTEM, name="to-graph", write_backends=["graph"])
    memories = sorted(
        (add(space, f"graph fact {n}", seed=n + 1) for n in range(3)),
        key=lambda m: str(m.pk),
    )
    deliver_all()
    adapter = adapter_for(backend)
    page = adapter.changes_since(None, limit=2)
    assert ops(page.changes) == [(str(m.pk), "upsert") for m in memories[:2]]
    assert page.changes[0].external_id == f"memoryhub:{memories[0].pk}"
    assert page.changes[0].detail == {
        "observations_added": 1,
        "observations_removed": 0,
    }
    assert page.more
    changes, _, cursor = drain(adapter, page.cursor, limit=2)
    assert ops(changes) == [(str(memories[2].pk), "upsert")]
    assert "graph fact" not in cursor  # digests, never text

    # Another writer adds an observation and an entity of its own.
    first = memories[0]
    graph_call(
        backend,
        "add_observations",
        {
            "observations": [
                {"entityName": f"memoryhub:{first.pk}", "contents": ["noted"]}
            ]
        },
    )
    graph_call(
        backend,
        "create_entities",
        {"entities": [{"name": "Alice", "entityType": "person", "observations": []}]},
    )
    changes, _, cursor = drain(adapter, cursor)
    assert ops(changes) == [(str(first.pk), "upsert")]
    assert changes[0].detail == {"observations_added": 1, "observations_removed": 0}

    # MemoryHub replaces the entity (dropping that observation), deletes another.
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=first.pk, metadata={"v": 2}
    )
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=memories[1].pk)
    deliver_all()
    changes, _, cursor = drain(adapter, cursor, limit=1)
    assert ops(changes) == [(str(first.pk), "upsert"), (str(memories[1].pk), "delete")]
    assert changes[0].detail == {"observations_added": 0, "observations_removed": 1}
    assert changes[1].detail == {"observations_removed": 1}
    assert drain(adapter, cursor)[0] == []
    with pytest.raises(InvalidCursor):
        adapter.changes_since(cursor_encode("local", {}))


# --- the operators' API -------------------------------------------------------------


@pytest.fixture
def operator_client():
    return client_for_user(UserFactory(is_staff=True))


def test_operators_read_change_feeds_over_the_api(space, operator_client):
    memories = [add(space, f"api fact {n}", seed=n + 1) for n in range(3)]
    url = CHANGES_URL.format("local")
    first = operator_client.post(url, {"limit": 2}, format="json")
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["more"] is True and body["backend"] == "local"
    assert [c["memory_id"] for c in body["changes"]] == [
        str(m.pk) for m in memories[:2]
    ]
    assert "api fact" not in first.content.decode()
    second = operator_client.post(url, {"cursor": body["cursor"]}, format="json")
    assert [c["memory_id"] for c in second.json()["changes"]] == [str(memories[2].pk)]
    assert second.json()["more"] is False


def test_bad_feed_requests_are_clear_400s_and_spare_the_circuit(
    db, tmp_path, operator_client
):
    backend = mcp_backend(tmp_path)
    url = CHANGES_URL.format("graph")
    for _ in range(5):
        response = operator_client.post(url, {"cursor": "garbage"}, format="json")
        assert response.status_code == 400
        assert "pass no cursor to start" in response.json()["detail"]
    breaker = breaker_for(backend)
    assert (breaker.state, breaker.failures) == (CircuitState.CLOSED, 0)
    bad_limit = operator_client.post(url, {"limit": 0}, format="json")
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["detail"]
    missing = operator_client.post(CHANGES_URL.format("ghost"), {}, format="json")
    assert missing.status_code == 404
