"""Health URLs, included at the site root: ``/healthz`` and ``/readyz``."""

from django.urls import path

from memoryhub import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
