"""``manage.py sync_status``: every sync job, its last run, lag and errors."""

from memoryhub.commands import ServiceCommand
from routing.models import SyncJob
from routing.sync.selectors import job_status, next_run_at, with_last_run


class Command(ServiceCommand):
    help = "Show every sync job with its last run, lag, next run and errors."

    def handle(self, *args, **options):
        jobs = with_last_run(
            SyncJob.objects.select_related(
                "space", "space__team", "backend", "periodic_task"
            ).order_by("pk")
        )
        if not jobs:
            self.stdout.write("No sync jobs.")
            return
        for job in jobs:
            status = job_status(job)
            run = status["last_run"]
            last = (
                "never run"
                if run is None
                else f"last run {run['id']} {run['state']} at "
                f"{run['started_at']:%Y-%m-%d %H:%M:%S}"
            )
            lag = status["lag_seconds"]
            moment = next_run_at(job)
            self.stdout.write(
                f"{job.pk}  {job.name}  {job.space.team.slug}/{job.space.slug} "
                f"{job.direction} {job.backend.name}  "
                f"{'enabled' if job.enabled else 'disabled'}; {last}; "
                f"lag {'-' if lag is None else f'{lag:.0f} s'}; next "
                f"{f'{moment:%Y-%m-%d %H:%M:%S}' if moment else 'on demand'}"
            )
            if job.last_error:
                self.stdout.write(
                    f"    failing ({job.failures}x, backing off until "
                    f"{job.backoff_until:%Y-%m-%d %H:%M:%S}): {job.last_error}"
                )
