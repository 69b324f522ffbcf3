"""``manage.py sync_run JOB [--wait]``: run a sync job now."""

from django.core.management.base import CommandError

from accounts.actors import SYSTEM
from memoryhub.commands import ServiceCommand
from routing.models import SYNC_COUNTS, SyncJob, SyncRunState, SyncTrigger
from routing.sync.engine import run_continue, run_start
from routing.sync.services import sync_job_run


def job_named(value: str) -> SyncJob:
    """A job by id or by name (a name must be unique)."""
    if value.isdigit():
        job = SyncJob.objects.filter(pk=int(value)).first()
    else:
        jobs = list(SyncJob.objects.filter(name=value)[:2])
        if len(jobs) > 1:
            raise CommandError(f"more than one job is called {value!r}; use its id")
        job = jobs[0] if jobs else None
    if job is None:
        raise CommandError(f"sync job {value!r} not found (see manage.py sync_status)")
    return job


class Command(ServiceCommand):
    help = "Run a sync job now: in a worker, or here with --wait."

    def add_arguments(self, parser):
        parser.add_argument("job", help="the job's id or name")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="run it in this process until it ends, and print its counts",
        )

    def handle(self, *args, job: str, wait: bool, **options):
        found = job_named(job)
        if not wait:
            run = sync_job_run(actor=SYSTEM, job=found, trigger=SyncTrigger.MANUAL)
            self.stdout.write(f"Run {run.pk} of job {found.pk}: {run.state}.")
            return
        run = run_start(job_pk=found.pk, trigger=SyncTrigger.MANUAL)
        if run.state == SyncRunState.RUNNING:
            run = run_continue(run_pk=run.pk, budget=float("inf"))
        counts = ", ".join(f"{name} {getattr(run, name)}" for name in SYNC_COUNTS)
        self.stdout.write(
            f"Run {run.pk} of job {found.pk} ({found.name}): {run.state}"
            + (f" in {run.duration_ms} ms" if run.duration_ms is not None else "")
            + f"; {counts}."
        )
        if run.message:
            self.stdout.write(run.message)
        for item in run.error_items:
            self.stdout.write(f"  {item['item']}: {item['error']}")
        if run.state in (SyncRunState.FAILED, SyncRunState.SKIPPED):
            raise CommandError(f"run {run.pk} {run.state}")
