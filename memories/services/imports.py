"""Background imports: an upload (MemoryHub JSON Lines, a mem0 export, an
OpenMemory archive, an MCP memory file) becomes an :class:`ImportJob`, run
by a Celery task in parts, so a person watches its progress.

The upload is sealed with the space's data key (base64 of the bytes, so lines
that are not UTF-8 are kept as they came and reported as errors); the task
gets only the job's id. Each part goes through ``memories_import_units`` — the
same validation, deduplication, encryption, audit and routing as every
other write — acting as the person who uploaded, whose permission is
checked again when the job runs. The sealed upload is dropped at the end.
"""

import base64
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.actors import Actor, actor_for_user
from memories import permissions
from memories.encryption import keyring
from memories.models import ImportJob, Space
from memories.permissions import require_perm
from memories.services.formats import file_units
from memories.services.transfer import memories_import_units
from memoryhub.dispatch import send
from memoryhub.errors import DomainError, InvalidInput

PART_LINES = 200  # lines per part: progress is saved after each


def _aad(job_id: int, space: Space) -> bytes:
    return f"importjob:{job_id}:space:{space.pk}".encode()


def import_job_create(
    *,
    actor: Actor,
    space: Space,
    data: bytes,
    filename: str = "",
    surface: str = "ui",
    format: str = "auto",
) -> ImportJob:
    """Queue ``data`` for import into ``space`` (``add_memory``): any format of
    :mod:`memories.services.formats`, checked now (a 400 stores nothing)."""
    require_perm(actor, space, permissions.ADD)
    if actor.user is None:
        raise InvalidInput("background imports are started by a signed-in person")
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise InvalidInput(
            f"the file is {len(data):,} bytes; the limit is "
            f"{settings.IMPORT_MAX_BYTES:,} (MEMORYHUB_IMPORT_MAX_BYTES)",
            field="file",
        )
    if not data.strip():
        raise InvalidInput("the file holds no line to import", field="file")
    fmt, units = file_units(data, format)
    if not units:
        raise InvalidInput("the file holds nothing to import", field="file")
    with transaction.atomic():
        job = ImportJob.objects.create(
            space=space,
            created_by=actor.user,
            filename=filename[:255],
            format=fmt,
            total_lines=len(units),
        )
        version = keyring.active_version(space)
        job.payload = keyring.seal_field(
            space=space,
            version=version,
            text=base64.b64encode(data).decode(),
            aad=_aad(job.pk, space),
        )
        job.key_version = version
        job.save(update_fields=["payload", "key_version"])
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_pk: int) -> None:
    from memories.tasks import import_job_run  # tasks import services

    send(import_job_run, args=[job_pk], what=f"import {job_pk}")


def import_job_run(*, job_pk: int, part_lines: int = PART_LINES) -> ImportJob | None:
    """Run (or resume) a job; each part's results and progress are saved as
    it finishes. A job already finished is left alone, and so is one another
    worker is running (a redelivered task): a session advisory lock, which a
    killed worker's connection releases, lets one run at a time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", [f"import:{job_pk}"]
        )
        if not cursor.fetchone()[0]:
            return ImportJob.objects.filter(pk=job_pk).first()
    try:
        return _run(job_pk, part_lines)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(hashtext(%s))", [f"import:{job_pk}"]
            )


def _run(job_pk: int, part_lines: int) -> ImportJob | None:
    job = (
        ImportJob.objects.select_related("space", "created_by")
        .filter(pk=job_pk)
        .first()
    )
    if job is None or job.finished:
        return job
    space = job.space
    if job.payload is None:
        return _fail(job, "the uploaded file is gone; upload it again")
    job.state, job.started_at = (
        ImportJob.State.RUNNING,
        job.started_at or timezone.now(),
    )
    job.save(update_fields=["state", "started_at"])
    user = job.created_by
    if user is None or not user.is_active:
        return _fail(job, "the person who uploaded the file can no longer import")
    actor = actor_for_user(user)
    try:
        raw = base64.b64decode(
            keyring.open_field(
                space=space, blob=bytes(job.payload), aad=_aad(job.pk, space)
            )
        )
        _, units = file_units(raw, job.format)
        # Resume after the last saved part: one result per unit.
        for low in range(len(job.results), len(units), part_lines):
            outcome = memories_import_units(
                actor=actor,
                space=space,
                units=units[low : low + part_lines],
                surface="ui",
            )
            job.results.extend(
                {**entry, "id": str(entry["id"])} if entry.get("id") else entry
                for entry in outcome["results"]
            )
            job.created += outcome["created"]
            job.duplicates += outcome["duplicates"]
            job.errors += outcome["errors"]
            job.processed_lines = len(job.results)
            job.save(
                update_fields=["results", "created", "duplicates", "errors",
                               "processed_lines"]
            )  # fmt: skip
    except DomainError as exc:  # lost add_memory, space shredded, ...
        return _fail(job, exc.message)
    job.state, job.finished_at, job.payload = (
        ImportJob.State.SUCCEEDED, timezone.now(), None,
    )  # fmt: skip
    job.save(update_fields=["state", "finished_at", "payload"])
    return job


def _fail(job: ImportJob, reason: str) -> ImportJob:
    job.state, job.failure = ImportJob.State.FAILED, reason[:500]
    job.finished_at, job.payload = timezone.now(), None
    job.save(update_fields=["state", "failure", "finished_at", "payload"])
    return job


def import_jobs_requeue(*, older_than_seconds: int, now=None) -> int:
    """Queue again the jobs still waiting for their task (lost while the
    broker was down); a job another worker runs is left alone by the task."""
    now = now or timezone.now()
    waiting = list(
        ImportJob.objects.filter(
            state=ImportJob.State.QUEUED,
            created_at__lt=now - timedelta(seconds=older_than_seconds),
        ).values_list("pk", flat=True)[:100]
    )
    for job_pk in waiting:
        _enqueue(job_pk)
    return len(waiting)
