"""The sync API and its rules: validation (a clear 400 naming the field,
nothing saved), the beat schedule kept with the job, one run at a time,
back-off of a failing source, cancel, the commands and the space status."""

import json
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.actors import SYSTEM
from memories.models import Memory
from routing.backends.mem0_oss import django_conninfo
from routing.models import SyncJob, SyncRun, SyncRunState
from routing.sync import engine
from routing.sync import services as sync
from routing.sync.engine import run_continue, run_start
from routing.sync.filtering import filter_matches, filter_q
from tests.conftest import client_for_user
from tests.factories import UserFactory, make_member
from tests.routing_helpers import add, mcp_backend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing")]


@pytest.fixture
def operator():
    return client_for_user(UserFactory(is_staff=True))


@pytest.fixture
def peer(tmp_path):
    return mcp_backend(tmp_path, "graph", allows_plaintext=True)


def body(space, backend, **values):
    return {
        "name": "nightly",
        "space": f"{space.team.slug}/{space.slug}",
        "backend": backend.name,
        "direction": "both",
        **values,
    }


def post(client, data):
    return client.post(
        "/api/v1/sync/jobs/", json.dumps(data), content_type="application/json"
    )


def test_a_job_and_its_schedule_are_created_changed_and_deleted_together(
    operator, space, peer
):
    response = post(operator, body(space, peer, schedule={"every": 300}))
    assert response.status_code == 201, response.json()
    job = SyncJob.objects.get(pk=response.json()["id"])
    task = PeriodicTask.objects.get(pk=job.periodic_task_id)
    assert (task.task, task.args, task.interval.every) == (
        "routing.tasks.sync_job_task",
        f"[{job.pk}]",
        300,
    )
    assert response.json()["next_run_at"] is not None

    url = f"/api/v1/sync/jobs/{job.pk}/"
    changed = operator.patch(
        url,
        json.dumps({"schedule": {"crontab": "*/15 2 * * 1-5"}, "enabled": False}),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.json()
    task.refresh_from_db()
    assert task.interval is None and task.crontab.minute == "*/15"
    assert task.crontab.day_of_week == "1-5" and task.enabled is False

    operator.patch(url, json.dumps({"schedule": {}}), content_type="application/json")
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    operator.patch(
        url, json.dumps({"schedule": {"every": 60}}), content_type="application/json"
    )
    job.refresh_from_db()
    assert operator.delete(url).status_code == 204
    assert not SyncJob.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="sync job").exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"backend": "nowhere"}, "backend"),
        ({"backend": "local"}, "backend"),
        ({"space": "acme/nowhere"}, "space"),
        ({"space": "no-slash"}, "space"),
        ({"direction": "sideways"}, "direction"),
        ({"filter": {"user_id": {"near": "x"}}}, "filter"),
        ({"filter": {"created_at": {"gte": "2024-01-01"}}}, "filter"),
        ({"filter": "user_id=alice"}, "filter"),
        ({"schedule": {"every": "hourly"}}, "schedule"),
        ({"schedule": {"every": 0}}, "schedule"),
        ({"schedule": {"crontab": "every day"}}, "schedule"),
        ({"schedule": {"crontab": "61 * * * *"}}, "schedule"),
        ({"schedule": {"cron": "* * * * *"}}, "schedule"),
        ({"conflict_policy": "loudest"}, "conflict_policy"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 5000}, "batch_size"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"propagate_deletes": "yes"}, "propagate_deletes"),
        ({"name": ""}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(
    operator, space, peer, values, field
):
    data = {**body(space, peer, schedule={"every": 60}), **values}
    response = post(operator, data)
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert field in json.dumps(payload), payload
    assert not SyncJob.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="sync job").exists()


def test_a_backend_without_plaintext_can_only_be_pulled_from(operator, space, tmp_path):
    sealed = mcp_backend(tmp_path, "sealed", allows_plaintext=False)
    response = post(operator, body(space, sealed, direction="push"))
    assert response.status_code == 400 and "plaintext" in response.json()["detail"]
    assert post(operator, body(space, sealed, direction="pull")).status_code == 201


def test_one_run_at_a_time_a_second_trigger_is_recorded_as_skipped(space, peer):
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=peer, direction="push"
    )
    first = run_start(job_pk=job.pk, trigger="manual")
    # A worker is executing it: another session holds the job's lock.
    with psycopg.connect(django_conninfo(), autocommit=True) as worker:
        worker.execute(
            "SELECT pg_advisory_lock(hashtext(%s))", [engine._lock_key(job.pk)]
        )
        second = run_start(job_pk=job.pk, trigger="schedule")
    assert second.state == SyncRunState.SKIPPED
    assert f"run {first.pk} is still running" in second.message
    # Nobody holds the lock: the run is orphaned, the next trigger resumes it.
    assert run_start(job_pk=job.pk, trigger="schedule").pk == first.pk
    assert run_continue(run_pk=first.pk).state == SyncRunState.SUCCEEDED


def test_a_failing_source_backs_off_and_says_why(space, tmp_path):
    broken = mcp_backend(
        tmp_path,
        "broken",
        allows_plaintext=True,
        max_retries=0,
        config={"args": [str(tmp_path / "missing-server.js")]},
    )
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=broken, direction="pull"
    )
    failed = run_continue(run_pk=run_start(job_pk=job.pk, trigger="manual").pk)
    assert failed.state == SyncRunState.FAILED and failed.message
    job.refresh_from_db()
    assert job.failures == 1 and job.last_error == failed.message
    assert job.backoff_until > timezone.now() + timedelta(seconds=20)
    skipped = run_start(job_pk=job.pk, trigger="schedule")
    assert skipped.state == SyncRunState.SKIPPED and "backing off" in skipped.message
    # A person may still run it now; the schedule waits.
    assert run_start(job_pk=job.pk, trigger="manual").state == SyncRunState.RUNNING


def test_cancel_stops_a_run_between_pages(space, peer, tmp_path):
    for n in range(5):
        add(space, f"fact {n}", seed=n + 1)
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="j",
        space=space,
        backend=peer,
        direction="push",
        batch_size=2,
    )
    run = run_start(job_pk=job.pk, trigger="manual")
    sync.sync_run_cancel(actor=SYSTEM, job=job)
    done = run_continue(run_pk=run.pk)
    assert done.state == SyncRunState.CANCELLED and done.pages == 0
    with pytest.raises(Exception, match="no running run"):
        sync.sync_run_cancel(actor=SYSTEM, job=job)


def test_a_run_over_its_budget_continues_in_a_follow_up_task(space, peer, settings):
    for n in range(5):
        add(space, f"fact {n}", seed=n + 1)
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="j",
        space=space,
        backend=peer,
        direction="push",
        batch_size=2,
    )
    run = run_start(job_pk=job.pk, trigger="manual")
    paused = run_continue(run_pk=run.pk, budget=0)  # hands over at once
    assert paused.state == SyncRunState.RUNNING and paused.pages == 0
    done = run_continue(run_pk=run.pk)
    assert done.state == SyncRunState.SUCCEEDED
    assert (done.pages, done.created, done.tasks) == (3, 5, 2)


def test_the_commands_run_a_job_and_show_every_status(space, peer, capsys):
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="nightly",
        space=space,
        backend=peer,
        direction="push",
        schedule={"every": 3600},
    )
    call_command("sync_run", "nightly", "--wait")
    out = capsys.readouterr().out
    assert f"of job {job.pk} (nightly): succeeded" in out
    call_command("sync_status")
    out = capsys.readouterr().out
    assert "nightly" in out and "succeeded" in out and "next" in out
    with pytest.raises(CommandError, match="not found"):
        call_command("sync_run", "nothing-called-this")


def test_space_status_shows_last_run_lag_and_errors(space, peer):
    member = make_member(space.team, "viewer")
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=peer, direction="push"
    )
    run_continue(run_pk=run_start(job_pk=job.pk, trigger="manual").pk)
    response = client_for_user(member).get(
        f"/api/v1/sync/spaces/{space.slug}/", {"team": space.team.slug}
    )
    assert response.status_code == 200
    (status,) = response.json()["results"]
    assert status["last_run"]["state"] == "succeeded"
    assert status["lag_seconds"] is not None and status["failures"] == 0


def test_the_filter_language_reads_the_same_in_python_and_in_sql(space):
    """A pulled item passes the filter exactly when the memory it becomes
    would be selected by the same filter in the database."""
    rows = [
        ({"user_id": "alice", "categories": ["travel"], "metadata": {"n": 3}}, "a"),
        ({"user_id": "bob", "categories": [], "metadata": {"n": "3", "t": ["x"]}}, "b"),
        ({"agent_id": "bot", "categories": ["food", "travel"], "metadata": {}}, "c"),
    ]
    memories = [
        (add(space, text, seed=i + 1, **fields), fields)
        for i, (fields, text) in enumerate(rows)
    ]
    filters = [
        {"user_id": "alice"},
        {"user_id": {"in": ["alice", "bob"]}},
        {"user_id": "*"},
        {"categories": {"contains": "travel"}},
        {"categories": {"in": ["food"]}},
        {"categories": {"icontains": "TRAV"}},
        {"n": {"gte": 2}},
        {"metadata": {"n": {"eq": "3"}}},
        {"t": {"contains": "x"}},
        {"n": {"ne": 3}},
        {"OR": [{"user_id": "bob"}, {"agent_id": "bot"}]},
        {"NOT": {"categories": {"contains": "travel"}}},
        {"metadata": "*"},
    ]
    for spec in filters:
        in_sql = set(
            Memory.objects.filter(space=space)
            .filter(filter_q(spec))
            .values_list("pk", flat=True)
        )
        in_python = {
            memory.pk
            for memory, fields in memories
            if filter_matches(
                spec,
                {
                    "user_id": fields.get("user_id", ""),
                    "agent_id": fields.get("agent_id", ""),
                    "categories": fields.get("categories", []),
                    "metadata": fields.get("metadata", {}),
                },
            )
        }
        assert in_python == in_sql, spec


def test_sync_jobs_never_run_for_an_api_key_or_a_member(space, peer, cast):
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=peer, direction="push"
    )
    for who in ("writer", "member", "viewer"):
        response = cast.clients[who].post(f"/api/v1/sync/jobs/{job.pk}/run/")
        assert response.status_code == 404, who
    assert not SyncRun.objects.exists()


def test_reset_cursors_reads_both_sides_again_and_changes_nothing(space, peer):
    add(space, "fact one", seed=1)
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=peer, direction="both"
    )
    first = run_continue(run_pk=run_start(job_pk=job.pk, trigger="manual").pk)
    assert first.created == 1
    sync.sync_job_update(actor=SYSTEM, job=job, reset_cursors=True)
    job.refresh_from_db()
    assert job.pull_cursor == job.push_cursor == ""
    again = run_continue(run_pk=run_start(job_pk=job.pk, trigger="manual").pk)
    assert again.seen >= 2 and (again.created, again.updated) == (0, 0)


def test_a_job_deleted_with_its_space_takes_its_beat_entry_along(space, peer):
    job = sync.sync_job_create(
        actor=SYSTEM,
        name="j",
        space=space,
        backend=peer,
        direction="push",
        schedule={"every": 60},
    )
    task_pk = job.periodic_task_id
    space.delete()
    assert not SyncJob.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_pk).exists()


def test_an_item_the_backend_refuses_is_an_error_of_that_item_only(
    space, peer, monkeypatch
):
    from routing.backends.base import PermanentError
    from routing.backends.registry import adapter_for

    memories = [add(space, f"fact {n}", seed=n + 1) for n in range(3)]
    refused = str(memories[1].pk)
    adapter = adapter_for(peer)
    real_add = adapter.add

    def add_many(records):
        raise PermanentError("the batch holds a record the server refuses")

    def add_one(record):
        if record.memory_id == refused:
            raise PermanentError("entity refused by the server")
        return real_add(record)

    monkeypatch.setattr(adapter, "add_many", add_many)
    monkeypatch.setattr(adapter, "add", add_one)
    job = sync.sync_job_create(
        actor=SYSTEM, name="j", space=space, backend=peer, direction="push"
    )
    done = run_continue(run_pk=run_start(job_pk=job.pk, trigger="manual").pk)
    assert done.state == SyncRunState.PARTIAL
    assert (done.created, done.errors) == (2, 1)
    assert done.error_items == [
        {"item": refused, "error": "PermanentError: entity refused by the server"}
    ]
    assert "fact" not in json.dumps(done.error_items)  # never content
