"""Seams: how a lower layer calls a higher one without importing it.

A memory write must enqueue replication, a search must ask the routing rules,
an API key change must reach the audit, yet ``memories`` sits below
``routing`` and ``accounts`` below ``audit`` (docs/architecture.md). The lower
layer defines what it needs as a small class with a do-nothing default, and a
setting names the implementation the higher layer provides, as
django-allauth's ``get_adapter()`` does. :func:`resolve` imports it once.
"""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@cache
def resolve_path(path: str):
    """The object a dotted path names, imported once."""
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"cannot import {path!r}: {exc}") from exc


def resolve(setting: str):
    """The object the dotted path in ``settings.<setting>`` names, imported once.

    The setting is read on every call (a cheap attribute lookup), so
    ``override_settings`` in tests takes effect; the import is cached per path.
    """
    path = getattr(settings, setting, None)
    if not isinstance(path, str) or not path:
        raise ImproperlyConfigured(
            f"settings.{setting} must name a class or function as a dotted path"
        )
    return resolve_path(path)
