"""Celery tasks for memories: thin interfaces that load ids and call a service."""

import logging

from celery import shared_task
from django.conf import settings

from memoryhub.celery import app

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def space_purge(space_pk: int) -> None:
    """Delete the rows of a shredded space, one batch per task run."""
    # Services enqueue these tasks: import them when the task runs.
    from memories.services.spaces import space_purge as purge

    if not purge(space_pk=space_pk):
        space_purge.delay(space_pk)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def space_reencrypt(space_pk: int) -> None:
    """Re-encrypt one batch of a space under its active data key, then requeue."""
    # Services enqueue these tasks: import them when the task runs.
    from memories.encryption.rotation import space_reencrypt_batch

    if space_reencrypt_batch(space_pk=space_pk) > 0:
        space_reencrypt.delay(space_pk)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def memories_expire_sweep() -> int:
    """Erase memories past their expiry grace period (one batch per run)."""
    # Services enqueue these tasks: import them when the task runs.
    from memories.services.erasure import memories_expire_sweep as sweep

    erased = sweep()
    if erased:
        logger.info("expiry sweep erased %d memories", erased)
    return erased


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_job_run(job_pk: int) -> None:
    """Run a background import (memories.services.imports); only its id
    travels through the broker, never the file."""
    from memories.services import imports

    imports.import_job_run(job_pk=job_pk)


@shared_task(ignore_result=True)
def extraction_sweep() -> None:
    """Queue lost extractions and imports again, fail stale extractions,
    prune old extraction events."""
    from memories.services import extraction
    from memories.services.imports import import_jobs_requeue

    outcome = extraction.extraction_sweep()
    outcome["imports requeued"] = import_jobs_requeue(
        older_than_seconds=settings.EXTRACTION_REDISPATCH_SECONDS
    )
    if any(outcome.values()):
        logger.info("extraction sweep: %s", outcome)


@app.on_after_finalize.connect
def _schedule(sender, **kwargs) -> None:
    """Beat entries for the sweeps; each expires just under its interval."""
    interval = settings.EXPIRY_SWEEP_SECONDS
    sender.add_periodic_task(
        interval,
        memories_expire_sweep.s(),
        name="memories: expiry sweep",
        expires=interval * 0.9,
    )
    sender.add_periodic_task(
        300.0,
        extraction_sweep.s(),
        name="memories: extraction sweep",
        expires=270.0,
    )


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # Four model calls at most (two steps, one retry each), each bounded by
    # the model's timeout; the default limits hold them.
)
def extraction_run(event_id: str) -> None:
    """Run a queued extraction (memories.services.extraction); only the
    event's id travels through the broker, never the messages."""
    from memories.services import extraction

    extraction.extraction_run(event_id=event_id)
