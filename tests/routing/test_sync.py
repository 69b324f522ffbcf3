"""Sync jobs against real stores: a real ``mem0.Memory`` (OSS) and the real
official MCP memory server, as sources and as targets (pull, push, both)."""

import pytest

from accounts.actors import SYSTEM
from memories import services as memory_services
from memories.encryption.sealing import memory_content
from memories.models import Memory, MemoryEvent, MemoryState
from memories.selectors import memory_history
from routing.backends.registry import adapter_for
from routing.models import ExternalRef, SyncRunState
from routing.sync import services as sync
from routing.sync.engine import run_continue, run_start
from tests.factories import BackendFactory
from tests.routing_helpers import add, graph_call, mcp_backend

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.usefixtures("fresh_routing"),
]


def mem0_backend(tmp_path, name="oss"):
    return BackendFactory(
        name=name,
        kind="mem0",
        timeout_seconds=60,
        allows_plaintext=True,
        config={
            "collection": f"mh_sync_{name.replace('-', '_')}",
            "history_path": str(tmp_path / f"{name}-history.db"),
        },
    )


def job_for(space, backend, direction, **values):
    return sync.sync_job_create(
        actor=SYSTEM,
        name=f"{direction} {backend.name}",
        space=space,
        backend=backend,
        direction=direction,
        **values,
    )


def run(job):
    """One run from start to end in this process (as the worker does)."""
    started = run_start(job_pk=job.pk, trigger="manual")
    assert started.state == SyncRunState.RUNNING, started.message
    return run_continue(run_pk=started.pk)


def contents(space, **filters) -> list[str]:
    return sorted(
        memory_content(m, space)
        for m in Memory.objects.filter(space=space, state=MemoryState.ACTIVE, **filters)
    )


def test_pull_adopts_what_another_app_wrote_to_mem0_and_maps_it(space, tmp_path):
    backend = mem0_backend(tmp_path)
    mem0 = adapter_for(backend).memory
    mem0.add(
        "Dana lives in Lisbon", user_id="dana", infer=False, metadata={"src": "crm"}
    )
    mem0.add("Dana likes jazz", user_id="dana", infer=False)
    mem0.add("The office opens at nine", agent_id="concierge", infer=False)
    job = job_for(space, backend, "pull", batch_size=2)

    first = run(job)
    assert first.state == SyncRunState.SUCCEEDED, first.message
    assert (first.seen, first.created, first.errors) == (3, 3, 0)
    assert first.pages == 2
    assert contents(space, user_id="dana") == [
        "Dana likes jazz",
        "Dana lives in Lisbon",
    ]
    lisbon = Memory.objects.get(space=space, user_id="dana", metadata__src="crm")
    assert lisbon.metadata == {"src": "crm"}
    events = memory_history(actor=SYSTEM, space=space, memory_id=lisbon.pk)
    assert events[0]["actor"] == f"sync job {job.pk}"
    assert ExternalRef.objects.filter(backend=backend).count() == 3

    again = run(job)  # nothing new: nothing changes
    assert (again.seen, again.created, again.updated) == (0, 0, 0)

    # Changes at the source: an update and a delete (deletes do not propagate
    # unless the job says so).
    ref = ExternalRef.objects.get(memory_id=lisbon.pk)
    mem0.update(ref.external_id, "Dana lives in Porto", metadata={"src": "crm"})
    third = run(job)
    assert (third.updated, third.created) == (1, 0)
    lisbon.refresh_from_db()
    assert memory_content(lisbon, space) == "Dana lives in Porto"
    history = memory_history(actor=SYSTEM, space=space, memory_id=lisbon.pk)
    assert [e["event"] for e in history] == ["ADD", "UPDATE"]
    assert history[-1]["old_content"] == "Dana lives in Lisbon"

    jazz = Memory.objects.get(space=space, user_id="dana", metadata={})
    mem0.delete(ExternalRef.objects.get(memory_id=jazz.pk).external_id)
    run(job)
    assert Memory.objects.get(pk=jazz.pk).state == MemoryState.ACTIVE
    sync.sync_job_update(actor=SYSTEM, job=job, propagate_deletes=True)
    mem0.delete(ExternalRef.objects.get(memory_id=lisbon.pk).external_id)
    last = run(job)
    assert last.deleted == 1
    assert Memory.objects.get(pk=lisbon.pk).state == MemoryState.DELETED


def test_push_back_fills_a_space_into_the_mcp_server_then_follows_it(space, tmp_path):
    backend = mcp_backend(tmp_path, allows_plaintext=True)
    memories = [add(space, f"fact {n}", seed=n + 1) for n in range(25)]
    job = job_for(space, backend, "push", batch_size=10, propagate_deletes=True)

    first = run(job)
    assert first.state == SyncRunState.SUCCEEDED, first.message
    assert (first.total, first.created, first.pages) == (25, 25, 3)
    graph = {e["name"]: e["observations"] for e in adapter_for(backend).read_graph()}
    assert graph == {f"memoryhub:{m.pk}": [f"fact {n}"] for n, m in enumerate(memories)}

    assert run(job).created == 0  # nothing changed, nothing sent
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memories[0].pk, content="fact zero"
    )
    memory_services.memory_delete(actor=SYSTEM, space=space, memory_id=memories[1].pk)
    follow = run(job)
    assert (follow.updated, follow.deleted, follow.created) == (1, 1, 0)
    graph = {e["name"]: e["observations"] for e in adapter_for(backend).read_graph()}
    assert graph[f"memoryhub:{memories[0].pk}"] == ["fact zero"]
    assert f"memoryhub:{memories[1].pk}" not in graph
    assert len(graph) == 24


def test_pull_maps_each_observation_of_other_entities_to_a_memory(space, tmp_path):
    backend = mcp_backend(tmp_path, allows_plaintext=True)
    graph_call(
        backend,
        "create_entities",
        {
            "entities": [
                {
                    "name": "Ada Lovelace",
                    "entityType": "person",
                    "observations": ["wrote the first program", "born in 1815"],
                }
            ]
        },
    )
    job = job_for(space, backend, "both", propagate_deletes=True)
    first = run(job)
    assert first.created == 2, first.error_items
    adopted = Memory.objects.filter(space=space, metadata__mcp_entity="Ada Lovelace")
    assert sorted(memory_content(m, space) for m in adopted) == [
        "born in 1815",
        "wrote the first program",
    ]
    assert {m.metadata["mcp_entity_type"] for m in adopted} == {"person"}
    # The echo of the pull (nothing) and of the push (our own entity) is quiet.
    assert run(job).created == 0
    # An edit in MemoryHub goes back into the same entity as an observation.
    born = next(m for m in adopted if memory_content(m, space) == "born in 1815")
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=born.pk, content="born on 10 December 1815"
    )
    pushed = run(job)
    assert pushed.updated == 1, pushed.error_items
    (entity,) = [
        e for e in adapter_for(backend).read_graph() if e["name"] == "Ada Lovelace"
    ]
    assert sorted(entity["observations"]) == [
        "born on 10 December 1815",
        "wrote the first program",
    ]
    quiet = run(job)
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0), quiet.counts()


def test_both_ways_conflict_newest_wins_loser_in_history(space, tmp_path):
    backend = mem0_backend(tmp_path, "both")
    mem0 = adapter_for(backend).memory
    memory = add(space, "Eve works in Berlin", user_id="eve")
    job = job_for(space, backend, "both")
    run(job)
    ref = ExternalRef.objects.get(memory_id=memory.pk, backend=backend)
    assert mem0.get(ref.external_id)["memory"] == "Eve works in Berlin"

    # Both sides change: the backend later, so it wins (policy "newest").
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, content="Eve works in Munich"
    )
    mem0.update(ref.external_id, "Eve works in Hamburg", metadata={})
    both = run(job)
    assert both.conflicts == 1
    memory.refresh_from_db()
    assert memory_content(memory, space) == "Eve works in Hamburg"
    assert mem0.get(ref.external_id)["memory"] == "Eve works in Hamburg"
    olds = [
        e["old_content"]
        for e in memory_history(actor=SYSTEM, space=space, memory_id=memory.pk)
    ]
    assert "Eve works in Munich" in olds  # the loser, kept

    # Policy "hub": MemoryHub's version wins and the backend's is kept as a
    # CONFLICT event.
    sync.sync_job_update(actor=SYSTEM, job=job, conflict_policy="hub")
    mem0.update(ref.external_id, "Eve works in Bremen", metadata={})
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, content="Eve works in Cologne"
    )
    hub = run(job)
    assert hub.conflicts == 1
    memory.refresh_from_db()
    assert memory_content(memory, space) == "Eve works in Cologne"
    assert mem0.get(ref.external_id)["memory"] == "Eve works in Cologne"
    conflict = MemoryEvent.objects.get(memory=memory, event="CONFLICT")
    assert conflict.actor == f"sync job {job.pk}"
    history = memory_history(actor=SYSTEM, space=space, memory_id=memory.pk)
    assert any(e["old_content"] == "Eve works in Bremen" for e in history)

    for _ in range(2):  # repeated runs change nothing, on either side
        quiet = run(job)
        assert (quiet.created, quiet.updated, quiet.conflicts) == (0, 0, 0)
    assert len(mem0.get_all(filters={"user_id": "eve"})["results"]) == 1
    assert Memory.objects.filter(space=space).count() == 1
