"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, teams, memberships and API keys."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
