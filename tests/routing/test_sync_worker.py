"""Sync jobs on a real Celery worker and beat on Redis: a schedule that runs
on its own, and workers killed with SIGKILL in the middle of a pull of 2,000
memories and of a push — after the next run both sides hold exactly the
expected set, no duplicates, nothing lost.

Outside CI an unreachable Redis skips these tests; in CI it fails them.
"""

import signal
import time

import pytest
from django.test import override_settings

from accounts.actors import SYSTEM
from memories.encryption.sealing import memory_content
from memories.models import Memory
from routing.backends.registry import adapter_for
from routing.models import ExternalRef, SyncRun, SyncRunState
from routing.sync import services as sync
from routing.sync.engine import run_continue, run_start
from tests.celery_support import start_beat, start_worker, stop_worker, wait_for
from tests.factories import make_space, make_team
from tests.routing.test_sync import mem0_backend
from tests.routing_helpers import add, mcp_backend, reset_routing_state

pytestmark = [
    pytest.mark.slow,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_routing"),
]


def runs(job, **filters):
    return SyncRun.objects.filter(job=job, **filters)


def finished(job) -> bool:
    return not runs(job, state=SyncRunState.RUNNING).exists() and runs(job).exists()


@override_settings(SYNC_MIN_INTERVAL_SECONDS=1)
def test_beat_runs_a_scheduled_job_on_its_own(real_broker, tmp_path):
    space = make_space(make_team("beaten"), "default")
    backend = mem0_backend(tmp_path, "beat")
    mem0 = adapter_for(backend).memory
    mem0.add("Fay reads on Sundays", user_id="fay", infer=False)
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="every two seconds",
        space=space,
        backend=backend,
        direction="pull",
        schedule={"every": 2},
    )
    log = tmp_path / "celery.log"
    worker, beat = start_worker(real_broker, log), start_beat(real_broker, log)
    try:
        wait_for(
            lambda: runs(job, trigger="schedule", state="succeeded").count() >= 2,
            worker,
            log,
            timeout=90,
        )
        mem0.add("Fay moved to Ghent", user_id="fay", infer=False)
        wait_for(
            lambda: Memory.objects.filter(space=space).count() == 2,
            worker,
            log,
            timeout=60,
        )
    finally:
        stop_worker(beat)
        stop_worker(worker)
    assert sorted(
        memory_content(m, space) for m in Memory.objects.filter(space=space)
    ) == [
        "Fay moved to Ghent",
        "Fay reads on Sundays",
    ]
    # Disabling the job disables its beat entry, in the same transaction.
    sync.sync_job_update(actor=SYSTEM, job=job, enabled=False)
    job.refresh_from_db()
    assert job.periodic_task.enabled is False


def _kill_mid_run(real_broker, tmp_path, job, *, pages_before_kill: int):
    """Run ``job`` on a worker, SIGKILL it after some pages, then run it again
    on a fresh worker until it ends."""
    log = tmp_path / "worker.log"
    first = start_worker(real_broker, log)
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), first, log, timeout=60)
        run = sync.sync_job_run(actor=SYSTEM, job=job)
        assert run.state == SyncRunState.RUNNING
        wait_for(
            lambda: SyncRun.objects.get(pk=run.pk).pages >= pages_before_kill,
            first,
            log,
            timeout=180,
        )
    finally:
        stop_worker(first, signal.SIGKILL)
    killed = SyncRun.objects.get(pk=run.pk)
    assert killed.state == SyncRunState.RUNNING  # its worker died mid-run
    second = start_worker(real_broker, log)
    try:
        wait_for(
            lambda: log.read_bytes().count(b"ready.") >= 2, second, log, timeout=60
        )
        # The next trigger resumes the orphaned run from its last page.
        resumed = sync.sync_job_run(actor=SYSTEM, job=job)
        assert resumed.pk == run.pk
        deadline = time.monotonic() + 300
        while not finished(job) and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        stop_worker(second)
    done = SyncRun.objects.get(pk=run.pk)
    assert done.state == SyncRunState.SUCCEEDED, (done.message, done.error_items)
    assert done.tasks >= 2
    return done


def test_a_worker_killed_mid_pull_resumes_without_duplicates_or_loss(
    real_broker, tmp_path
):
    space = make_space(make_team("pullers"), "default")
    backend = mem0_backend(tmp_path, "kill-pull")
    mem0 = adapter_for(backend).memory
    expected = [f"note {n:04d} about the migration" for n in range(2000)]
    for text in expected:
        mem0.add(text, user_id="ops", infer=False)
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="pull 2000",
        space=space,
        backend=backend,
        direction="pull",
        batch_size=50,
    )
    reset_routing_state()  # the worker builds its own adapter
    _kill_mid_run(real_broker, tmp_path, job, pages_before_kill=5)
    contents = [memory_content(m, space) for m in Memory.objects.filter(space=space)]
    assert sorted(contents) == expected  # each exactly once
    assert ExternalRef.objects.filter(backend=backend).count() == 2000
    again = run_start(job_pk=job.pk, trigger="manual")
    again = run_continue(run_pk=again.pk)
    assert (again.seen, again.created) == (0, 0)  # the cursor is past it all


def test_a_worker_killed_mid_push_resumes_without_duplicates_or_loss(
    real_broker, tmp_path
):
    space = make_space(make_team("pushers"), "default")
    memories = [add(space, f"pushed fact {n}", seed=n + 1) for n in range(300)]
    backend = mcp_backend(
        tmp_path, allows_plaintext=True, config={"inject_latency_ms": 300}
    )
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="push 300",
        space=space,
        backend=backend,
        direction="push",
        batch_size=20,
    )
    reset_routing_state()
    done = _kill_mid_run(real_broker, tmp_path, job, pages_before_kill=3)
    assert done.total == 300
    graph = {e["name"]: e["observations"] for e in adapter_for(backend).read_graph()}
    assert graph == {
        f"memoryhub:{m.pk}": [f"pushed fact {n}"] for n, m in enumerate(memories)
    }
    assert ExternalRef.objects.filter(backend=backend).count() == 300
