"""The backend adapter protocol: what every kind of memory store implements.

An adapter is created once per process per backend configuration (see
:mod:`routing.backends.registry`) and may keep long-lived clients. It speaks
in :class:`Record` (what MemoryHub sends: a memory's plaintext and scope) and
:class:`Hit` (what a backend returns). Adapters raise :class:`TransientError`
for failures worth retrying (timeouts, connection errors, 5xx) and
:class:`PermanentError` for the rest; :mod:`routing.calls` adds timeouts,
retries and the circuit breaker around every call.

``add`` must be idempotent per ``record.memory_id``: delivering the same
memory twice (a worker killed after the backend stored it but before the
external id was recorded) must leave one copy, and return its id.

``changes_since`` lists what changed in the backend after an opaque cursor,
a bounded page at a time (:class:`ChangePage`); each kind decides what its
cursor encodes (:mod:`routing.backends.changes` holds the shared codec), and
a cursor that is not one of its own is a :class:`PermanentError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# Metadata keys MemoryHub adds to each copy so it can be found again.
MEMORY_ID_KEY = "memoryhub_id"
SPACE_KEY = "memoryhub_space"


class BackendError(Exception):
    """A backend call failed; ``message`` never contains memory content."""

    transient = False
    # True when the caller's arguments were at fault, not the backend: such
    # errors do not count against the backend's health or circuit.
    caller_error = False


class TransientError(BackendError):
    """Timeouts, refused connections, 5xx: worth a retry."""

    transient = True


class PermanentError(BackendError):
    """Bad configuration, 4xx, unsupported operation: retrying will not help."""


class CircuitOpen(TransientError):
    """The backend's circuit is open: the call was not attempted."""


@dataclass(frozen=True)
class Record:
    """A memory as sent to a backend (plaintext: only to plaintext backends)."""

    memory_id: str
    space_uuid: str
    content: str
    user_id: str = ""
    agent_id: str = ""
    app_id: str = ""
    run_id: str = ""
    metadata: dict = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    version: int = 1

    def tagged_metadata(self) -> dict:
        """The memory's metadata plus the MemoryHub id and space."""
        return {
            **self.metadata,
            MEMORY_ID_KEY: self.memory_id,
            SPACE_KEY: self.space_uuid,
        }


@dataclass(frozen=True)
class Hit:
    """One item a backend returned: its id there, a score and what it holds."""

    external_id: str
    score: float = 0.0
    content: str | None = None
    memory_id: str | None = None  # the MemoryHub id, when the backend kept it


@dataclass(frozen=True)
class Change:
    """One change reported by ``changes_since`` (ids and counts, never content).

    ``detail`` holds kind-specific, content-free facts (the space of a local
    memory, how many observations an MCP entity gained or lost).
    """

    external_id: str
    op: str  # "upsert" | "delete"
    memory_id: str | None = None
    detail: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ChangePage:
    """A bounded page of changes and the cursor to continue from.

    ``cursor`` is always set: pass it to the next call (now, when ``more``
    says changes are already waiting, or later to poll).
    """

    changes: list[Change]
    cursor: str
    more: bool = False


@dataclass(frozen=True)
class Item:
    """One changed item with what it holds, for sync pulls (:mod:`routing.sync`).

    Unlike :class:`Change`, it carries the content (plaintext, in memory
    only: sync applies it through the memory services, which seal it).
    ``memory_id`` is the MemoryHub id when the item is a MemoryHub copy;
    ``metadata`` is the item's own, without MemoryHub's tags; a delete has
    only ``external_id`` (and ``memory_id`` when known).
    """

    external_id: str
    op: str  # "upsert" | "delete"
    content: str = ""
    memory_id: str | None = None
    user_id: str = ""
    agent_id: str = ""
    app_id: str = ""
    run_id: str = ""
    # None: the backend does not keep this (sync leaves the memory's own).
    metadata: dict | None = None
    categories: tuple[str, ...] | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ItemPage:
    """A bounded page of :class:`Item` and the cursor after it (see ChangePage)."""

    items: list[Item]
    cursor: str
    more: bool = False


@dataclass(frozen=True)
class SearchScope:
    """What a search is limited to (a space, and optionally subject ids)."""

    space_uuid: str
    space_pk: int
    user_id: str = ""
    agent_id: str = ""
    app_id: str = ""
    run_id: str = ""


class Lazy:
    """A client built on first use, once however many threads ask at once.

    ``reset`` forgets it (and returns it, for closing): the next use rebuilds.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._value = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value

    def reset(self) -> Any:
        value, self._value = self._value, None
        return value


class BackendAdapter:
    """Base class for adapters: one subclass per kind, in its own module."""

    kind: ClassVar[str] = ""
    # True: each call runs in the call pool, which stops waiting at the
    # backend's timeout. False: it runs in the caller's thread, for adapters
    # that use its Django connection (local) or bound every call by the
    # timeout themselves (mcp_memory); every replicated write pays a hand-off
    # to the pool once per backend (its cost: docs/routing.md, "Measured").
    threaded: ClassVar[bool] = True
    # Config keys an operator may set; anything else is rejected on save.
    config_keys: ClassVar[frozenset[str]] = frozenset()
    secret_keys: ClassVar[frozenset[str]] = frozenset()
    required_config: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        name: str,
        config: dict[str, Any],
        secrets: dict[str, str],
        timeout: float,
    ) -> None:
        self.name = name
        self.config = config
        self.secrets = secrets
        self.timeout = timeout

    @classmethod
    def validate_config(cls, config: dict, secrets: dict) -> list[str]:
        """Problems with ``config``/``secrets`` (empty when valid)."""
        problems = []
        unknown = set(config) - cls.config_keys - {"inject_latency_ms"}
        if unknown:
            problems.append(
                f"unknown config key(s) for kind {cls.kind!r}: "
                f"{', '.join(sorted(unknown))}; allowed: "
                f"{', '.join(sorted(cls.config_keys)) or 'none'}"
            )
        missing = cls.required_config - set(config)
        if missing:
            problems.append(f"missing config key(s): {', '.join(sorted(missing))}")
        unknown_secrets = set(secrets) - cls.secret_keys
        if unknown_secrets:
            problems.append(
                f"unknown secret(s) for kind {cls.kind!r}: "
                f"{', '.join(sorted(unknown_secrets))}"
            )
        return problems

    # --- the protocol ---------------------------------------------------------

    def add(self, record: Record) -> str:
        """Store ``record`` (idempotent per memory id); returns its id there."""
        raise NotImplementedError

    def add_many(self, records: Sequence[Record]) -> list[str]:
        """Store several records (idempotent, as ``add``); their ids, in order.

        Kinds that can store a batch in one call override this (sync pushes
        and back-fills send whole pages).
        """
        return [self.add(record) for record in records]

    def get(self, external_id: str) -> Hit | None:
        """The item with ``external_id``, or None if the backend has none."""
        raise NotImplementedError

    def update(self, external_id: str, record: Record) -> str | None:
        """Replace the content and metadata of an item; its new id if the
        update changed it (adopted MCP observations), else None."""
        raise NotImplementedError

    def update_many(self, pairs: Sequence[tuple[str, Record]]) -> list[str | None]:
        """``update`` each (external id, record); the new ids, in order.

        Kinds that can replace a batch in one call override this (sync pushes).
        """
        return [self.update(external_id, record) for external_id, record in pairs]

    def delete(self, external_id: str) -> None:
        """Delete an item; an item that is already gone is not an error."""
        raise NotImplementedError

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """Items matching ``query`` within ``scope``, best first."""
        raise NotImplementedError

    def changes_since(self, cursor: str | None, *, limit: int = 100) -> ChangePage:
        """At most ``limit`` changes after ``cursor`` (None: from the start)."""
        raise PermanentError(f"backend kind {self.kind!r} does not report changes")

    def pull_since(self, cursor: str | None, *, limit: int = 100) -> ItemPage:
        """Like ``changes_since``, with each item's content and scope (sync pulls).

        Its cursor may differ from ``changes_since``'s; it includes items
        MemoryHub did not write (another app's memories), which sync adopts.
        """
        raise PermanentError(f"backend kind {self.kind!r} cannot be a sync source")

    def health_check(self) -> None:
        """Raise a :class:`BackendError` if the backend cannot serve now."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients, sessions and processes (adapter replaced or exiting)."""
