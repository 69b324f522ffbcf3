"""App config for memories."""

from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    """Spaces, memories, history, audit, embeddings and search."""

    name = "memories"
    default_auto_field = "django.db.models.BigAutoField"
