"""MemoryHub project package: settings, Celery app, URLs, crypto and API plumbing."""

from memoryhub.celery import app as celery_app

__all__ = ["celery_app"]
