"""App config for routing."""

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Backends, routing rules, outbox and sync."""

    name = "routing"
    default_auto_field = "django.db.models.BigAutoField"
