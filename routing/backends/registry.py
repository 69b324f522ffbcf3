"""The registry of backend kinds and the per-process adapter cache.

Each kind lives in its own module exposing ``Adapter`` (a
:class:`~routing.backends.base.BackendAdapter` subclass); adding a kind is one
new module plus one line in :data:`KINDS` (or an entry in the
``MEMORYHUB_ROUTING_EXTRA_KINDS`` setting, ``kind=dotted.module``).

Adapters are cached per process, keyed by the backend's id and its
``updated_at``: editing a backend replaces its adapter (closing the old one),
while the long-lived clients (mem0 ``Memory``, MCP sessions) are otherwise
reused across calls.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

from django.conf import settings

from memoryhub.errors import InvalidInput
from routing.backends.base import BackendAdapter

KINDS: dict[str, str] = {
    "local": "routing.backends.local",
    "mem0": "routing.backends.mem0_oss",
    "mem0_platform": "routing.backends.mem0_platform",
    "mcp_memory": "routing.backends.mcp_memory",
}

_lock = threading.Lock()
_adapters: dict[int, tuple[object, BackendAdapter]] = {}


def kinds() -> dict[str, str]:
    """Every known kind and its module (built-in plus configured extras)."""
    return {**KINDS, **settings.ROUTING_EXTRA_KINDS}


def adapter_class(kind: str) -> type[BackendAdapter]:
    """The adapter class of ``kind`` (``InvalidInput`` naming the known kinds)."""
    known = kinds()
    if kind not in known:
        raise InvalidInput(
            f"unknown backend kind {kind!r}; known kinds: {', '.join(sorted(known))}",
            field="kind",
        )
    return importlib.import_module(known[kind]).Adapter


def adapter_for(backend) -> BackendAdapter:
    """The process's adapter for ``backend`` (created on first use)."""
    stamp = backend.updated_at
    cached = _adapters.get(backend.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    # routing.services imports this registry: a cycle at module level.
    from routing.services import backend_secrets

    with _lock:
        cached = _adapters.get(backend.pk)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        adapter = adapter_class(backend.kind)(
            name=backend.name,
            config=dict(backend.config),
            secrets=backend_secrets(backend),
            timeout=backend.timeout_seconds,
        )
        if cached is not None:
            _close_quietly(cached[1])
        _adapters[backend.pk] = (stamp, adapter)
        return adapter


def adapters_reset() -> None:
    """Close and forget every cached adapter (tests; process shutdown)."""
    with _lock:
        items = list(_adapters.values())
        _adapters.clear()
    for _, adapter in items:
        _close_quietly(adapter)


def _close_quietly(adapter: BackendAdapter) -> None:
    with contextlib.suppress(Exception):
        adapter.close()
