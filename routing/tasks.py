"""Celery tasks for routing: outbox delivery, the sweeper, health probes, sync runs.

Tasks take ids, call one service, and are idempotent (state-based delivery
under a per-pair lock, idempotent adds), so they run with ``acks_late`` and
``reject_on_worker_lost``: a worker killed mid-delivery leaves the message to
be redelivered, and the sweeper re-dispatches whatever is still pending.
Time limits bound a hung backend call; arguments are ids, never content.
"""

import logging

from celery import shared_task
from django.conf import settings

from memoryhub.celery import app

logger = logging.getLogger(__name__)

SWEEP_SECONDS = settings.ROUTING_SWEEP_SECONDS  # MEMORYHUB_OUTBOX_SWEEP_SECONDS
PROBE_SECONDS = settings.ROUTING_PROBE_SECONDS  # MEMORYHUB_BACKEND_PROBE_SECONDS
IDEMPOTENT = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": 120,
    "soft_time_limit": 100,
}


@shared_task(name="routing.tasks.outbox_deliver_task", **IDEMPOTENT)
def outbox_deliver_task(memory_id: str, backend_id: int) -> str:
    """Deliver the pending outbox entries of one (memory, backend) pair."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.outbox import dispatch, outbox_deliver

    result = outbox_deliver(memory_id=memory_id, backend_id=backend_id)
    if result.retry_in is not None:
        dispatch(memory_id, backend_id, countdown=result.retry_in)
    return result.status


@shared_task(name="routing.tasks.webhook_deliver_task", **IDEMPOTENT)
def webhook_deliver_task(webhook_id: int, memory_id: str) -> str:
    """Send the pending events of one (webhook, memory) pair, in order."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.webhooks import dispatch, webhook_deliver

    result = webhook_deliver(webhook_id=webhook_id, memory_id=memory_id)
    if result.retry_in is not None:
        dispatch(webhook_id, memory_id, countdown=result.retry_in)
    return result.status


@shared_task(name="routing.tasks.outbox_sweep_task", **IDEMPOTENT)
def outbox_sweep_task() -> int:
    """Re-dispatch pending deliveries (replicas and webhooks) whose task was lost."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.outbox import outbox_sweep
    from routing.webhooks import webhooks_sweep

    return outbox_sweep() + webhooks_sweep()


@shared_task(name="routing.tasks.backends_probe_task", **IDEMPOTENT)
def backends_probe_task() -> int:
    """Health-check every enabled backend (feeds breakers and health figures)."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.services import backends_probe

    return backends_probe()


# A run holds its job's advisory lock and commits page by page: a redelivered
# task finds the run executing elsewhere (or resumes it if its worker died).
SYNC = {**IDEMPOTENT, "time_limit": 3600, "soft_time_limit": 3500}


@shared_task(name="routing.tasks.sync_job_task", **SYNC)
def sync_job_task(job_id: int, trigger: str = "schedule") -> str:
    """Start (or resume) a run of one sync job: beat's entry point."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.sync.engine import run_continue, run_start

    run = run_start(job_pk=job_id, trigger=trigger)
    if run is None:
        return "gone"
    if run.state == "running":
        run = run_continue(run_pk=run.pk)
    return run.state


@shared_task(name="routing.tasks.sync_run_continue_task", **SYNC)
def sync_run_continue_task(run_id: int) -> str:
    """Execute a started run until it ends or its time budget is spent."""
    # Services enqueue these tasks: import them when the task runs.
    from routing.sync.engine import run_continue

    run = run_continue(run_pk=run_id)
    return "gone" if run is None else run.state


@app.on_after_finalize.connect
def _schedule(sender, **kwargs) -> None:
    """Beat entries; each expires just under its interval so runs never pile up."""
    sender.add_periodic_task(
        SWEEP_SECONDS,
        outbox_sweep_task.s(),
        name="routing: outbox sweeper",
        expires=SWEEP_SECONDS * 0.9,
    )
    sender.add_periodic_task(
        PROBE_SECONDS,
        backends_probe_task.s(),
        name="routing: backend health probes",
        expires=PROBE_SECONDS * 0.9,
    )
