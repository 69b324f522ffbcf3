"""The team app's configuration."""

from django.apps import AppConfig


class WebConfig(AppConfig):
    """Server-rendered pages for teams, mounted at ``/``."""

    name = "web"
    verbose_name = "Team app"
