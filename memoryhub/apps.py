"""App config for the project package (system checks live here)."""

from django.apps import AppConfig, apps
from django.db.models.signals import pre_migrate


class MemoryhubConfig(AppConfig):
    """Registers the start-up checks and the pgvector guard on ``migrate``."""

    name = "memoryhub"

    def ready(self) -> None:
        from memoryhub import checks  # registers the system checks

        # pre_migrate is sent per app with models; one app is enough to run the
        # guard once, before any migration (CREATE EXTENSION vector) runs.
        pre_migrate.connect(
            checks.refuse_migrate_without_pgvector,
            sender=apps.get_app_config("memories"),
            dispatch_uid="memoryhub.refuse_migrate_without_pgvector",
        )
