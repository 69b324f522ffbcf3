"""``mcp_memory``: an MCP knowledge-graph memory server (official or compatible).

Reached over stdio (``command`` + ``args``, with ``memory_file`` passed as
``MEMORY_FILE_PATH``) or streamable HTTP (``url``). Each memory is one entity
named ``memoryhub:<memory id>`` of type ``memoryhub_memory`` whose single
observation is the content; the name is deterministic, so ``add`` is
idempotent (the server skips entities whose name exists).

The official server does an unlocked read-modify-write of its JSONL file on
every call, so concurrent calls lose writes (DESIGN.md). Calls are therefore
serialized: per process by a lock, and across processes by an exclusive
``flock`` on ``<memory_file>.lock`` (stdio: every MemoryHub process on the
host starts its own server on the same file) or a PostgreSQL advisory lock
(HTTP: one remote server). Each process keeps one long-lived session per
backend on one event-loop thread (:mod:`routing.backends.aio`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from pathlib import Path

from routing.backends import aio
from routing.backends.base import (
    BackendAdapter,
    Hit,
    PermanentError,
    Record,
    SearchScope,
    TransientError,
)

ENTITY_TYPE = "memoryhub_memory"
PREFIX = "memoryhub:"


def default_server_script() -> Path:
    """Where ``make npm-deps`` installs the official server."""
    from django.conf import settings

    return (
        Path(settings.BASE_DIR)
        / "var/npm/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
    )


class Adapter(BackendAdapter):
    """An MCP memory server over stdio or streamable HTTP."""

    kind = "mcp_memory"
    config_keys = frozenset({"command", "args", "memory_file", "url"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._session: aio.McpSession | None = None

    @classmethod
    def validate_config(cls, config: dict, secrets: dict) -> list[str]:
        """stdio needs an absolute ``memory_file``; HTTP needs ``url``."""
        problems = super().validate_config(config, secrets)
        if config.get("url"):
            return problems
        memory_file = config.get("memory_file")
        if not memory_file or not Path(memory_file).is_absolute():
            problems.append(
                "memory_file must be an absolute path (the server's "
                "MEMORY_FILE_PATH), or set url for a streamable HTTP server"
            )
        args = config.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            problems.append("args must be a list of strings")
        return problems

    # --- plumbing -------------------------------------------------------------------

    def _server(self):
        from mcp.client.stdio import StdioServerParameters

        if self.config.get("url"):
            return self.config["url"]
        command = self.config.get("command") or "node"
        args = self.config.get("args") or [str(default_server_script())]
        return StdioServerParameters(
            command=command,
            args=list(args),
            env={"MEMORY_FILE_PATH": str(self.config["memory_file"])},
        )

    @contextlib.contextmanager
    def _serialized(self):
        with self._lock:
            if self.config.get("url"):
                with _advisory_lock(f"mcp_memory:{self.config['url']}"):
                    yield
                return
            lock_path = Path(f"{self.config['memory_file']}.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _call(self, tool: str, arguments: dict):
        """One tool call on the long-lived session (restarted if it broke)."""
        if self._session is None or self._session.broken:
            if self._session is not None:
                self._session.close()
            self._session = aio.McpSession(self._server(), timeout=self.timeout)
        try:
            result = self._session.call_tool(tool, arguments, timeout=self.timeout)
        except TimeoutError as exc:
            self._session.broken = True
            raise TransientError(f"MCP tool {tool} timed out") from exc
        except Exception as exc:
            self._session.broken = True
            raise TransientError(
                f"MCP tool {tool} failed: {type(exc).__name__}"
            ) from exc
        if result.is_error:
            text = " ".join(getattr(b, "text", "") for b in result.content)[:200]
            raise PermanentError(f"MCP tool {tool} returned an error: {text}")
        if result.structured_content is not None:
            return result.structured_content
        text = "".join(getattr(b, "text", "") for b in result.content)
        try:
            return json.loads(text) if text else {}
        except ValueError:
            return {"text": text}

    @staticmethod
    def _entities(payload) -> list[dict]:
        if isinstance(payload, dict):
            if "entities" in payload:
                return list(payload["entities"])
            if "result" in payload:
                return Adapter._entities(payload["result"])
        if isinstance(payload, list):
            return payload
        return []

    # --- the protocol -----------------------------------------------------------------

    def add(self, record: Record) -> str:
        """Create the memory's entity (a no-op if it exists)."""
        name = PREFIX + record.memory_id
        with self._serialized():
            self._call(
                "create_entities",
                {
                    "entities": [
                        {
                            "name": name,
                            "entityType": ENTITY_TYPE,
                            "observations": [record.content],
                        }
                    ]
                },
            )
        return name

    def get(self, external_id: str) -> Hit | None:
        """The entity, if it exists."""
        with self._serialized():
            payload = self._call("open_nodes", {"names": [external_id]})
        for entity in self._entities(payload):
            if entity.get("name") == external_id:
                return _hit(entity)
        return None

    def update(self, external_id: str, record: Record) -> None:
        """Replace the entity (delete and create, under one lock)."""
        with self._serialized():
            self._call("delete_entities", {"entityNames": [external_id]})
            self._call(
                "create_entities",
                {
                    "entities": [
                        {
                            "name": external_id,
                            "entityType": ENTITY_TYPE,
                            "observations": [record.content],
                        }
                    ]
                },
            )

    def delete(self, external_id: str) -> None:
        """Delete the entity (the server ignores unknown names)."""
        with self._serialized():
            self._call("delete_entities", {"entityNames": [external_id]})

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """The server's substring search; scope is applied when mapping back."""
        with self._serialized():
            payload = self._call("search_nodes", {"query": query})
        entities = [
            e for e in self._entities(payload) if e.get("entityType") == ENTITY_TYPE
        ]
        return [
            _hit(entity, score=1.0 / (1 + rank))
            for rank, entity in enumerate(entities[:top_k])
        ]

    def read_graph(self) -> list[dict]:
        """Every entity the server holds (tests and sync)."""
        with self._serialized():
            return self._entities(self._call("read_graph", {}))

    def health_check(self) -> None:
        """The server answers a cheap search."""
        with self._serialized():
            self._call("search_nodes", {"query": "memoryhub-health-probe"})

    def close(self) -> None:
        """End the session (stops a stdio server)."""
        if self._session is not None:
            self._session.close()
            self._session = None


def _hit(entity: dict, score: float = 0.0) -> Hit:
    name = entity.get("name", "")
    observations = entity.get("observations") or []
    return Hit(
        external_id=name,
        score=score,
        content=observations[0] if observations else None,
        memory_id=name[len(PREFIX) :] if name.startswith(PREFIX) else None,
    )


@contextlib.contextmanager
def _advisory_lock(label: str):
    """A session-level PostgreSQL advisory lock (serializes across hosts)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [label])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [label])
