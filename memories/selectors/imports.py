"""A space's background import jobs (memories.services.imports)."""

from accounts.actors import Actor
from memories import permissions
from memories.models import ImportJob, Space
from memories.permissions import require_perm
from memoryhub.errors import NotFound


def import_jobs_of(*, actor: Actor, space: Space, limit: int = 20) -> list[ImportJob]:
    """The space's recent import jobs (``view_space``), newest first."""
    require_perm(actor, space, permissions.VIEW)
    return list(
        ImportJob.objects.filter(space=space)
        .defer("payload", "results")
        .select_related("created_by")
        .order_by("-created_at")[:limit]
    )


def import_job_get(*, actor: Actor, space: Space, job_pk: int) -> ImportJob:
    """One job of ``space`` (``view_space``; another space's job is a 404)."""
    require_perm(actor, space, permissions.VIEW)
    job = ImportJob.objects.defer("payload").filter(space=space, pk=job_pk).first()
    if job is None:
        raise NotFound(f"import {job_pk} not found in space {space.slug!r}")
    return job
