"""App config for routing."""

from django.apps import AppConfig
from django.db.models.signals import post_delete


def _drop_schedule(sender, instance, **kwargs) -> None:
    """A sync job deleted with its space (a cascade, not the service) takes its
    beat entry along: beat never fires for a job that is gone."""
    # The models are ready when the signal fires.
    from django_celery_beat.models import PeriodicTask

    if instance.periodic_task_id is not None:
        PeriodicTask.objects.filter(pk=instance.periodic_task_id).delete()


class RoutingConfig(AppConfig):
    """Backends, routing rules, outbox, sync jobs and webhooks."""

    name = "routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_delete.connect(
            _drop_schedule, sender="routing.SyncJob", dispatch_uid="sync-schedule"
        )
