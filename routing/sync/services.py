"""Sync job services: create, change, delete, run now, cancel.

Operators manage every job; people who manage a space (its team's owners
and admins, ``manage_space``) see its jobs and may run or cancel them. Each
job's schedule is a django-celery-beat ``PeriodicTask`` created, changed and
deleted in the job's own transaction, so beat never fires for a job that is
not there (nor misses one that is). Bad values are a 400 naming the field;
nothing is saved then.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from accounts.actors import Actor
from memories.models import Space
from memoryhub.errors import Conflict, InvalidInput, NotFound
from routing.models import (
    Backend,
    ConflictPolicy,
    SyncDirection,
    SyncJob,
    SyncRun,
    SyncRunState,
    SyncTrigger,
)
from routing.services import require_operator
from routing.sync.engine import run_start
from routing.sync.filtering import filter_check
from routing.sync.selectors import job_visible

TASK = "routing.tasks.sync_job_task"
JOB_FIELDS = (
    "name",
    "space",
    "backend",
    "direction",
    "schedule",
    "enabled",
    "filter",
    "propagate_deletes",
    "conflict_policy",
    "batch_size",
    "rate_limit",
)
CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


# --- validation ---------------------------------------------------------------------


def _space(value: Any) -> Space:
    if isinstance(value, Space):
        return value
    team, _, slug = str(value or "").partition("/")
    space = (
        Space.objects.filter(team__slug=team, slug=slug, shredded_at__isnull=True)
        .select_related("team")
        .first()
        if team and slug
        else None
    )
    if space is None:
        raise InvalidInput(
            f"space {str(value)[:100]!r} not found; name it as <team>/<space>",
            field="space",
        )
    return space


def _backend(value: Any) -> Backend:
    if isinstance(value, Backend):
        backend = value
    else:
        backend = Backend.objects.filter(name=str(value or "")).first()
        if backend is None:
            raise InvalidInput(
                f"backend {str(value)[:100]!r} not found", field="backend"
            )
    if backend.kind == "local":
        raise InvalidInput(
            "a sync job joins a space with another store; the local backend "
            "is MemoryHub's own",
            field="backend",
        )
    return backend


def _choice(value: Any, field: str, choices) -> str:
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise InvalidInput(
            f"{field} must be one of {', '.join(allowed)}; got {str(value)[:40]!r}",
            field=field,
        )
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def _int(value: Any, field: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise InvalidInput(
            f"{field} must be an integer from {low} to {high}", field=field
        )
    return value


def schedule_check(value: Any) -> dict:
    """``{}`` (run on demand only), ``{"every": seconds}`` or
    ``{"crontab": "<minute> <hour> <day of month> <month> <day of week>"}``."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidInput(
            'schedule must be {"every": <seconds>}, {"crontab": "*/15 * * * *"} '
            "or {} (on demand only)",
            field="schedule",
        )
    if "every" in value:
        every = value["every"]
        low = settings.SYNC_MIN_INTERVAL_SECONDS
        if isinstance(every, bool) or not isinstance(every, int) or every < low:
            raise InvalidInput(
                f"schedule.every must be a whole number of seconds, at least {low}",
                field="schedule",
            )
        return {"every": every}
    if "crontab" in value:
        text = value["crontab"]
        parts = text.split() if isinstance(text, str) else []
        problem = None
        if len(parts) != len(CRONTAB_FIELDS):
            problem = "has 5 fields: minute hour day-of-month month day-of-week"
        else:
            try:
                crontab(**dict(zip(CRONTAB_FIELDS, parts, strict=True)))
            except (ValueError, TypeError) as exc:
                problem = f"does not parse ({str(exc)[:120]})"
        if problem:
            raise InvalidInput(
                f"schedule.crontab {problem}; e.g. '*/15 * * * *'", field="schedule"
            )
        return {"crontab": " ".join(parts)}
    raise InvalidInput(
        'schedule takes "every" (seconds) or "crontab"', field="schedule"
    )


def _clean(values: dict) -> dict:
    unknown = sorted(set(values) - set(JOB_FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(JOB_FIELDS)}",
            field=unknown[0],
        )
    cleaners = {
        "space": _space,
        "backend": _backend,
        "direction": lambda v: _choice(v, "direction", SyncDirection),
        "schedule": schedule_check,
        "enabled": lambda v: _bool(v, "enabled"),
        "filter": filter_check,
        "propagate_deletes": lambda v: _bool(v, "propagate_deletes"),
        "conflict_policy": lambda v: _choice(v, "conflict_policy", ConflictPolicy),
        "batch_size": lambda v: _int(v, "batch_size", 1, 1000),
        "rate_limit": lambda v: _int(v, "rate_limit", 0, 100_000),
    }
    cleaned = {}
    for key, value in values.items():
        if key == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                raise InvalidInput("name must be 1 to 100 characters", field="name")
            cleaned[key] = value.strip()
        else:
            cleaned[key] = cleaners[key](value)
    return cleaned


def _check_combination(job: SyncJob) -> None:
    if job.direction != SyncDirection.PULL and not job.backend.allows_plaintext:
        raise InvalidInput(
            f"backend {job.backend.name!r} does not allow plaintext, so it cannot "
            "receive memories: pull only, or allow plaintext on the backend",
            field="backend",
        )


# --- the schedule -------------------------------------------------------------------


def _schedule_save(job: SyncJob) -> None:
    """Make the job's PeriodicTask match its schedule (inside its transaction)."""
    task = job.periodic_task
    if not job.schedule:
        if task is not None:
            job.periodic_task = None
            job.save(update_fields=["periodic_task"])
            task.delete()
        return
    interval = crontab_row = None
    if "every" in job.schedule:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=job.schedule["every"], period=IntervalSchedule.SECONDS
        )
    else:
        parts = dict(zip(CRONTAB_FIELDS, job.schedule["crontab"].split(), strict=True))
        crontab_row, _ = CrontabSchedule.objects.get_or_create(**parts, timezone="UTC")
    if task is None:
        task = PeriodicTask(task=TASK)
    task.name = f"sync job {job.pk}"
    task.description = job.name
    task.args = f"[{job.pk}]"
    task.kwargs = '{"trigger": "schedule"}'
    task.interval, task.crontab = interval, crontab_row
    task.enabled = job.enabled
    task.save()
    if job.periodic_task_id != task.pk:
        job.periodic_task = task
        job.save(update_fields=["periodic_task"])


# --- jobs ---------------------------------------------------------------------------


def sync_job_check(*, actor: Actor, job: SyncJob | None = None, **values) -> None:
    """Raise what creating (or changing ``job``) with ``values`` would refuse."""
    require_operator(actor)
    candidate = SyncJob() if job is None else SyncJob.objects.get(pk=job.pk)
    for key, value in _clean(values).items():
        setattr(candidate, key, value)
    if candidate.backend_id is not None:
        _check_combination(candidate)


@transaction.atomic
def sync_job_create(*, actor: Actor, created_by=None, **values) -> SyncJob:
    """A new job (operators). Needs name, space, backend and direction."""
    require_operator(actor)
    cleaned = _clean(values)
    for required in ("name", "space", "backend", "direction"):
        if required not in cleaned:
            raise InvalidInput(f"{required} is required", field=required)
    job = SyncJob(created_by=created_by or actor.user, **cleaned)
    _check_combination(job)
    job.save()
    _schedule_save(job)
    return job


@transaction.atomic
def sync_job_update(
    *, actor: Actor, job: SyncJob, reset_cursors: bool = False, **values
) -> SyncJob:
    """Change a job (operators). A new space or backend starts its cursors
    over, as ``reset_cursors`` does (after a backend lost its change log: the
    next run reads everything again, which changes nothing already in step)."""
    require_operator(actor)
    if not isinstance(reset_cursors, bool):
        raise InvalidInput("reset_cursors must be true or false", field="reset_cursors")
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    cleaned = _clean(values)
    rejoined = reset_cursors or any(
        key in cleaned and cleaned[key].pk != getattr(job, f"{key}_id")
        for key in ("space", "backend")
    )
    for key, value in cleaned.items():
        setattr(job, key, value)
    if rejoined:
        job.pull_cursor = job.push_cursor = ""
        job.failures, job.backoff_until, job.last_error = 0, None, ""
    _check_combination(job)
    job.save()
    _schedule_save(job)
    return job


@transaction.atomic
def sync_job_delete(*, actor: Actor, job: SyncJob) -> None:
    """Remove a job, its runs and its schedule (operators). Copies stay."""
    require_operator(actor)
    if job.runs.filter(state=SyncRunState.RUNNING).exists():
        raise Conflict(f"job {job.pk} is running; cancel the run first")
    task = job.periodic_task
    job.delete()
    if task is not None:
        task.delete()


def sync_job_run(
    *, actor: Actor, job: SyncJob, trigger: str = SyncTrigger.API
) -> SyncRun:
    """Start a run now (or record it as skipped); the work happens in a task."""
    job = job_visible(actor, job.pk, manage=True)
    run = run_start(job_pk=job.pk, trigger=trigger)
    if run is None:
        raise NotFound(f"sync job {job.pk} not found")
    if run.state == SyncRunState.RUNNING:
        _enqueue(run.pk)
        run.refresh_from_db()
    return run


def _enqueue(run_pk: int) -> None:
    # The task module imports this one (the accepted task <-> service pair).
    from routing.tasks import sync_run_continue_task

    transaction.on_commit(lambda: sync_run_continue_task.delay(run_pk))


def sync_run_cancel(*, actor: Actor, job: SyncJob) -> SyncRun:
    """Ask the job's running run to stop after its current page (409 if none)."""
    job = job_visible(actor, job.pk, manage=True)
    run = job.runs.filter(state=SyncRunState.RUNNING).first()
    if run is None:
        raise Conflict(f"sync job {job.pk} has no running run")
    SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run.cancel_requested = True
    return run
