"""Sync job reads: the jobs an actor may see, their runs, a space's sync status.

Operators see every job; people who manage a space (``manage_space``) see
that space's jobs; anyone else gets a 404, as for a job that does not exist.
A space's status (last run, lag, errors) is for whoever may view the space.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.actors import Actor
from memories import permissions
from memories.models import Space
from memories.permissions import require_perm
from memoryhub.errors import Forbidden, NotFound
from routing.models import SyncJob, SyncRun, SyncRunState


def jobs_visible(actor: Actor) -> QuerySet[SyncJob]:
    """The jobs ``actor`` may see (none for anonymous)."""
    jobs = SyncJob.objects.select_related(
        "space", "space__team", "backend", "periodic_task"
    )
    if actor.is_operator:
        return jobs
    if actor.is_anonymous:
        return jobs.none()
    spaces = permissions.spaces_visible_to(actor, permissions.MANAGE)
    return jobs.filter(space__in=spaces.values("pk"))


def job_visible(actor: Actor, job_pk, *, manage: bool = False) -> SyncJob:
    """One job ``actor`` may see (404 otherwise). ``manage``: may run it too,
    which API keys never may (a job acts as the whole hub on its space)."""
    try:
        pk = int(job_pk)
    except (TypeError, ValueError):
        raise NotFound(f"sync job {str(job_pk)[:40]!r} not found") from None
    job = jobs_visible(actor).filter(pk=pk).first()
    if job is None:
        raise NotFound(f"sync job {pk} not found")
    if manage and actor.api_key is not None and not actor.is_operator:
        raise Forbidden("API keys cannot run sync jobs; sign in as a space manager")
    return job


def runs_of(*, actor: Actor, job_pk) -> QuerySet[SyncRun]:
    """A job's runs, newest first (404 if the job is invisible)."""
    job = job_visible(actor, job_pk)
    return SyncRun.objects.filter(job=job).order_by("-started_at", "-id")


def with_last_run(jobs: QuerySet[SyncJob]) -> list[SyncJob]:
    """``jobs`` with ``last_run`` set on each (two queries in all)."""
    latest = SyncRun.objects.filter(job=OuterRef("pk")).order_by("-started_at", "-id")
    jobs = list(jobs.annotate(last_run_pk=Subquery(latest.values("pk")[:1])))
    runs = SyncRun.objects.in_bulk([j.last_run_pk for j in jobs if j.last_run_pk])
    for job in jobs:
        job.last_run = runs.get(job.last_run_pk)
    return jobs


def job_status(job: SyncJob) -> dict:
    """A job's state for people: last run, lag, failures (``last_run`` set)."""
    run = getattr(job, "last_run", None)
    finished = (
        SyncRun.objects.filter(job=job, state__in=_DONE)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return {
        "job": job.pk,
        "name": job.name,
        "backend": job.backend.name,
        "direction": job.direction,
        "enabled": job.enabled,
        "last_run": None
        if run is None
        else {
            "id": run.pk,
            "state": run.state,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "counts": run.counts(),
            "message": run.message,
        },
        "last_success_at": finished,
        "lag_seconds": None
        if finished is None
        else round((timezone.now() - finished).total_seconds(), 1),
        "failures": job.failures,
        "backoff_until": job.backoff_until,
        "last_error": job.last_error,
    }


_DONE = (SyncRunState.SUCCEEDED, SyncRunState.PARTIAL)


def space_sync_status(*, actor: Actor, space: Space) -> list[dict]:
    """The sync jobs of ``space`` with their status (``view_space``)."""
    require_perm(actor, space, permissions.VIEW)
    jobs = SyncJob.objects.filter(space=space).select_related("backend")
    return [job_status(job) for job in with_last_run(jobs)]


def next_run_at(job: SyncJob):
    """When beat next starts the job (None without an enabled schedule)."""
    task = job.periodic_task
    if task is None or not task.enabled or not job.enabled:
        return None
    schedule = task.schedule  # celery schedule of the interval or crontab
    last = task.last_run_at or task.date_changed or timezone.now()
    remaining = schedule.remaining_estimate(last)
    now = timezone.now()
    return now + remaining if remaining.total_seconds() > 0 else now
