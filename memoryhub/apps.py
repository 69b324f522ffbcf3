"""App config for the project package (system checks live here)."""

from django.apps import AppConfig


class MemoryhubConfig(AppConfig):
    """Registers the start-up checks."""

    name = "memoryhub"

    def ready(self) -> None:
        from memoryhub import checks  # noqa: F401  (registers checks)
