"""App config for the access audit."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only access audit (below memories, above accounts)."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
