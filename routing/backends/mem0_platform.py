"""``mem0_platform``: a server speaking mem0's platform API, via ``MemoryClient``.

The hosted mem0 platform, or another MemoryHub (its mem0-compatible API):
config ``host`` (base URL) and optionally ``space`` (sent as the
``X-MemoryHub-Space`` header, which a MemoryHub peer uses to pick the key's
space); secret ``api_key``. One client per process per backend, with the
backend's timeout on its HTTP client (the SDK's default is 300 s).

Like the ``mem0`` kind, a memory without user/agent/run id is stored under
``user_id = "space:<space uuid>"``; each copy carries ``memoryhub_id`` in its
metadata, which ``add`` looks up first so a redelivery never duplicates.
"""

from __future__ import annotations

import contextlib

import httpx

from routing.backends.base import (
    MEMORY_ID_KEY,
    BackendAdapter,
    Hit,
    Lazy,
    PermanentError,
    Record,
    SearchScope,
    TransientError,
)
from routing.backends.mem0_oss import _copy_id, _item_hit, _mem0_env, _subject

SPACE_HEADER = "X-MemoryHub-Space"


def _items(found) -> list[dict]:
    """The items of a response (a list, or ``{"results": [...]}``)."""
    return found.get("results", []) if isinstance(found, dict) else found


class Adapter(BackendAdapter):
    """A mem0 platform API server (hosted mem0 or a MemoryHub peer)."""

    kind = "mem0_platform"
    config_keys = frozenset({"host", "space"})
    secret_keys = frozenset({"api_key"})
    required_config = frozenset({"host"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._client = Lazy(self._build)

    @property
    def client(self):
        """The ``MemoryClient`` (it pings the server when built)."""
        return self._client.get()

    def _build(self):
        _mem0_env()
        from mem0 import MemoryClient

        api_key = self.secrets.get("api_key")
        if not api_key:
            raise PermanentError(f"backend {self.name!r} needs the secret api_key")
        headers = {}
        if self.config.get("space"):
            headers[SPACE_HEADER] = self.config["space"]
        http = httpx.Client(timeout=self.timeout, headers=headers)
        try:
            return MemoryClient(api_key=api_key, host=self.config["host"], client=http)
        except ValueError as exc:  # the ping answered with an error status
            raise TransientError(f"ping failed: {str(exc)[:200]}") from exc

    def _do(self, fn, *args, **kwargs):
        from mem0.exceptions import (
            AuthenticationError,
            MemoryError,
            MemoryNotFoundError,
            MemoryQuotaExceededError,
            ValidationError,
        )

        try:
            return fn(*args, **kwargs)
        except MemoryNotFoundError:
            raise
        except (AuthenticationError, ValidationError, MemoryQuotaExceededError) as exc:
            raise PermanentError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        except (MemoryError, httpx.HTTPError) as exc:
            if isinstance(exc, httpx.TransportError):
                self._client.reset()  # reconnect on the next call
            raise TransientError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    def _find(self, record: Record) -> str | None:
        found = self._do(
            self.client.get_all,
            filters={**_subject(record), MEMORY_ID_KEY: record.memory_id},
        )
        return _copy_id(_items(found), record.memory_id)

    def add(self, record: Record) -> str:
        """Add raw text (``infer=False``) unless this memory is already there."""
        existing = self._find(record)
        if existing:
            return existing
        kwargs = {**_subject(record), "metadata": record.tagged_metadata()}
        if record.app_id:
            kwargs["app_id"] = record.app_id
        if record.categories:
            kwargs["categories"] = list(record.categories)
        result = self._do(self.client.add, record.content, infer=False, **kwargs)
        items = _items(result)
        if not items:
            raise PermanentError("the server stored nothing for the memory")
        return str(items[0]["id"])

    def get(self, external_id: str) -> Hit | None:
        """One memory by id (None when the server has none)."""
        from mem0.exceptions import MemoryNotFoundError

        try:
            return _item_hit(self._do(self.client.get, external_id))
        except MemoryNotFoundError:
            return None

    def update(self, external_id: str, record: Record) -> None:
        """Replace text and metadata."""
        self._do(
            self.client.update,
            external_id,
            text=record.content,
            metadata=record.tagged_metadata(),
        )

    def delete(self, external_id: str) -> None:
        """Delete; an unknown id is already deleted."""
        from mem0.exceptions import MemoryNotFoundError

        with contextlib.suppress(MemoryNotFoundError):
            self._do(self.client.delete, external_id)

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """The server's search within the scope's subject."""
        found = self._do(
            self.client.search, query, filters=_subject(scope), top_k=top_k
        )
        return [_item_hit(item) for item in _items(found)]

    def health_check(self) -> None:
        """``GET /v1/ping/`` answers."""
        response = self._do(self.client.client.get, "/v1/ping/")
        if response.status_code >= 500:
            raise TransientError(f"ping answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"ping answered {response.status_code}")

    def close(self) -> None:
        """Close the HTTP client."""
        client = self._client.reset()
        if client is not None:
            client.client.close()
