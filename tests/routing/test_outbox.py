"""Replication through the outbox to the real official MCP memory server.

Writes create outbox entries in their own transaction; delivery makes the
backend match the canonical state (add, update, delete, erase), in order,
idempotently; failures back off and end as retryable dead letters.
"""

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from accounts.actors import SYSTEM
from memories import services as memory_services
from memories.services import erasure
from routing import outbox, rules, services
from routing.models import ExternalRef, OutboxEntry, OutboxState
from tests.factories import BackendFactory
from tests.routing_helpers import (
    add,
    deliver_all,
    deliver_concurrently,
    graph_names,
    mcp_backend,
    reset_routing_state,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fresh_routing")]


@pytest.fixture
def graph(db, tmp_path):
    backend = mcp_backend(tmp_path)
    services.rule_create(
        actor=SYSTEM,
        name="to-graph",
        match={"spaces": ["acme/*"]},
        write_backends=["graph"],
    )
    return backend


def test_a_write_and_its_outbox_entry_commit_or_roll_back_together(graph, space):
    with pytest.raises(RuntimeError), transaction.atomic():
        add(space, "rolled back")
        assert OutboxEntry.objects.count() == 1
        raise RuntimeError
    assert OutboxEntry.objects.count() == 0
    memory = add(space, "kept")
    entry = OutboxEntry.objects.get()
    assert (entry.memory_id, entry.backend_id, entry.seq) == (memory.pk, graph.pk, 1)
    assert entry.idempotency_key == f"{memory.pk}:{graph.pk}:1"


def test_no_rule_means_no_outbox_and_unmatched_spaces_stay_local(db, team, tmp_path):
    from tests.factories import make_space

    mcp_backend(tmp_path)
    services.rule_create(
        actor=SYSTEM,
        name="other",
        match={"spaces": ["nobody/*"]},
        write_backends=["graph"],
    )
    add(make_space(team, "local-only"), "stays here")
    assert OutboxEntry.objects.count() == 0


def test_add_update_delete_and_erase_reach_the_mcp_server(graph, space):
    memory = add(space, "likes green tea")
    deliver_all()
    ref = ExternalRef.objects.get(memory_id=memory.pk)
    assert graph_names(graph) == [f"memoryhub:{memory.pk}"]
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"tier": "gold"}
    )
    deliver_all()
    ref.refresh_from_db()
    assert ref.applied_seq == 2 and ref.applied_version == 2
    other = add(space, "drinks coffee")
    deliver_all()
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=memory.pk)
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=other.pk, hard=True)
    deliver_all()
    assert graph_names(graph) == []
    assert not ExternalRef.objects.exists()
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_delete_is_never_overtaken_by_an_older_update(graph, space):
    memory = add(space, "v1")
    deliver_all()
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"v": 2}
    )
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=memory.pk)
    # The newer delete's task runs first; the older update's task comes late.
    assert outbox.outbox_deliver(memory_id=memory.pk, backend_id=graph.pk).status == (
        "delivered"
    )
    assert outbox.outbox_deliver(memory_id=memory.pk, backend_id=graph.pk).status == (
        "nothing"
    )
    assert graph_names(graph) == []
    seqs = OutboxEntry.objects.filter(memory_id=memory.pk).values_list("seq", flat=True)
    assert sorted(seqs) == [1, 2, 3]


def test_redelivery_after_a_lost_external_ref_keeps_one_copy(graph, space):
    memory = add(space, "only once")
    deliver_all()
    # Simulate a worker that stored the copy but died before recording it.
    ExternalRef.objects.all().delete()
    OutboxEntry.objects.update(state=OutboxState.PENDING)
    deliver_all()
    assert graph_names(graph) == [f"memoryhub:{memory.pk}"]


def test_failures_back_off_then_dead_letter_and_retry_delivers(db, space, tmp_path):
    backend = mcp_backend(
        tmp_path, name="broken", max_retries=0, config={"command": "/nonexistent"}
    )
    services.rule_create(actor=SYSTEM, name="to-broken", write_backends=["broken"])
    memory = add(space, "patience")
    for _ in range(outbox.MAX_ATTEMPTS):
        from routing.breaker import breakers_reset

        breakers_reset()  # keep the circuit closed: count real attempts
        result = outbox.outbox_deliver(memory_id=memory.pk, backend_id=backend.pk)
    entry = OutboxEntry.objects.get()
    assert result.status == "dead" and entry.state == OutboxState.DEAD
    assert entry.attempts == outbox.MAX_ATTEMPTS and entry.last_error
    assert "patience" not in entry.last_error
    services.backend_update(
        actor=SYSTEM,
        backend=backend,
        config={"memory_file": backend.config["memory_file"]},
    )
    reset_routing_state()
    assert services.outbox_retry(entry_ids=[entry.pk]) == 1
    deliver_all()
    entry.refresh_from_db()
    assert entry.state == OutboxState.DELIVERED
    backend.refresh_from_db()
    assert graph_names(backend) == [f"memoryhub:{memory.pk}"]


def test_the_sweeper_redispatches_entries_whose_task_was_lost(graph, space, settings):
    memory = add(space, "lost task")
    OutboxEntry.objects.update(dispatched_at=None)
    # Eager Celery: the sweeper's dispatch delivers in-process.
    assert services.outbox_sweep() == 1
    assert graph_names(graph) == [f"memoryhub:{memory.pk}"]
    assert services.outbox_sweep() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_through_memoryhub_lose_nothing(team, tmp_path):
    """The server loses writes under concurrent calls; MemoryHub serializes them."""
    from tests.factories import make_space

    space = make_space(team, "busy")
    backend = mcp_backend(tmp_path)
    services.rule_create(actor=SYSTEM, name="all", write_backends=["graph"])
    memories = [add(space, f"fact {n}", seed=n + 1) for n in range(20)]
    deliver_concurrently(memories, backend)
    assert graph_names(backend) == sorted(f"memoryhub:{m.pk}" for m in memories)
    assert ExternalRef.objects.count() == 20


def _sync_rule(name: str, backend: str = "graph"):
    services.rule_create(
        actor=SYSTEM,
        name=name,
        priority=1,
        match={"spaces": ["acme/*"]},
        write_backends=[backend],
        write_mode="sync",
    )


def test_sync_mode_delivers_in_the_writing_process_after_commit(
    db, tmp_path, space, monkeypatch, django_capture_on_commit_callbacks
):
    """No task is sent: the copy exists when the write returns."""
    backend = mcp_backend(tmp_path)
    _sync_rule("sync-graph")
    sent = []
    monkeypatch.setattr(outbox, "dispatch", lambda *a, **k: sent.append((a, k)))
    with django_capture_on_commit_callbacks(execute=True):
        memory = add(space, "delivered before the write returns")
    assert sent == []
    assert OutboxEntry.objects.get().state == OutboxState.DELIVERED
    assert ExternalRef.objects.get(memory_id=memory.pk).backend_id == backend.pk
    assert graph_names(backend) == [f"memoryhub:{memory.pk}"]


def test_sync_mode_failures_are_left_to_the_worker(
    db, tmp_path, space, monkeypatch, django_capture_on_commit_callbacks
):
    """A failed synchronous delivery never fails the write: it is retried
    through the outbox (a delayed task), attempts counted."""
    mcp_backend(
        tmp_path, name="down", max_retries=0, config={"args": [str(tmp_path / "x")]}
    )
    _sync_rule("sync-down", backend="down")
    sent = []
    monkeypatch.setattr(outbox, "dispatch", lambda *a, **k: sent.append((a, k)))
    with django_capture_on_commit_callbacks(execute=True):
        memory = add(space, "written even though the backend is down")
    entry = OutboxEntry.objects.get()
    assert entry.state == OutboxState.PENDING and entry.attempts == 1
    assert entry.last_error
    [(args, kwargs)] = sent
    assert args[0] == memory.pk and kwargs["countdown"] > 0


# --- what one delivery sends ---------------------------------------------------------


def _other_session():
    """A second database session (another worker's delivery in flight)."""
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_two_statement_batches_with_its_own_begin_and_commit(
    graph, space, monkeypatch
):
    """The claim (BEGIN, setting, lock, every read) and the bookkeeping with
    the COMMIT: psycopg sends no BEGIN or COMMIT of its own."""
    monkeypatch.setattr(outbox, "dispatch", lambda *args, **kwargs: None)
    warm = add(space, "opens the session and the breaker")
    assert outbox.outbox_deliver(memory_id=warm.pk, backend_id=graph.pk).status == (
        "delivered"
    )
    memory = add(space, "counted round trips")
    rules.snapshot()  # the rule cache's own freshness check stays out of the count
    with CaptureQueriesContext(connection) as captured:
        result = outbox.outbox_deliver(memory_id=memory.pk, backend_id=graph.pk)
    assert result.status == "delivered"
    sent = [query["sql"] for query in captured.captured_queries]
    assert len(sent) == 2, sent
    assert sent[0].startswith(
        "BEGIN; SET LOCAL synchronous_commit = off; SELECT set_config("
    )
    assert sent[1].startswith("INSERT INTO routing_externalref")
    assert sent[1].endswith("; COMMIT")
    assert connection.get_autocommit() and not connection.in_atomic_block
    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    # Committed: another session sees the copy recorded and the entry done.
    with _other_session() as other:
        states = other.execute(
            "SELECT state FROM routing_outboxentry WHERE memory_id = %s", [memory.pk]
        ).fetchall()
        refs = other.execute(
            "SELECT count(*) FROM routing_externalref WHERE memory_id = %s",
            [memory.pk],
        ).fetchone()
    assert states == [("delivered",)] and refs == (1,)
    assert graph_names(graph) == sorted(f"memoryhub:{m.pk}" for m in (warm, memory))


@pytest.mark.django_db(transaction=True)
def test_a_pair_another_worker_is_delivering_is_busy_at_once(graph, space, monkeypatch):
    """Neither waiting on the other worker's row locks nor reading anything."""
    monkeypatch.setattr(outbox, "dispatch", lambda *args, **kwargs: None)
    memory = add(space, "contended")
    entry = OutboxEntry.objects.get()
    with connection.cursor() as cursor:  # waiting on a lock would fail, not hang
        cursor.execute("SET lock_timeout = '2s'")
    with _other_session() as other, other.transaction():
        other.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"outbox:{memory.pk}:{graph.pk}"],
        )
        other.execute(
            "SELECT id FROM routing_outboxentry WHERE id = %s FOR UPDATE", [entry.pk]
        )
        result = outbox.outbox_deliver(memory_id=memory.pk, backend_id=graph.pk)
        assert result.status == "busy" and result.retry_in
        assert not connection.in_atomic_block
    entry.refresh_from_db()
    assert entry.state == OutboxState.PENDING and entry.attempts == 0
    assert graph_names(graph) == []
    # Once the other worker is done, the pair is delivered.
    assert outbox.outbox_deliver(memory_id=memory.pk, backend_id=graph.pk).status == (
        "delivered"
    )
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_a_pairs_pending_lookup_reads_only_its_rows_whatever_the_backlog(db, space):
    """Statistics taken before a backlog (the usual state of a queue table)
    must not make each delivery scan every pending entry."""
    import uuid

    backend = BackendFactory(name="backlog", kind="local")
    done = {(uuid.uuid4(), backend.pk): (space.pk, "add") for _ in range(5000)}
    outbox._create_entries(done, {}, fresh=True)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)
    with connection.cursor() as cursor:  # statistics: nothing is pending
        cursor.execute("ANALYZE routing_outboxentry")
    backlog = {(uuid.uuid4(), backend.pk): (space.pk, "add") for _ in range(3000)}
    assert outbox._create_entries(backlog, {}, fresh=True) == 3000
    memory_id = next(iter(backlog))[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('memoryhub.outbox_locked', 'on', true)")
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + outbox._SQL_PENDING,
            [memory_id, backend.pk],
        )
        [plan] = cursor.fetchone()[0]
    nodes = list(_plan_nodes(plan["Plan"]))
    scans = [node for node in nodes if "Scan" in node["Node Type"]]
    assert scans and all(
        node["Relation Name"] == "routing_outboxentry" for node in scans
    )
    assert all(node["Actual Rows"] <= 1 for node in scans)
    assert sum(node.get("Rows Removed by Filter", 0) for node in nodes) == 0
    assert any("memory_id" in node.get("Index Cond", "") for node in scans)
