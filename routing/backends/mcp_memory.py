"""``mcp_memory``: an MCP knowledge-graph memory server (official or compatible).

Reached over stdio (``command`` + ``args``, with ``memory_file`` passed as
``MEMORY_FILE_PATH``) or streamable HTTP (``url``; the secret ``api_key`` is
sent as ``Authorization: Bearer``, and ``space`` as ``X-MemoryHub-Space`` for
a MemoryHub peer's MCP endpoint). Each memory is one entity
named ``memoryhub:<memory id>`` of type ``memoryhub_memory`` whose single
observation is the content; the name is deterministic, so ``add`` is
idempotent (the server skips entities whose name exists).

The official server does an unlocked read-modify-write of its JSONL file on
every call, so concurrent calls lose writes (DESIGN.md). Calls are therefore
serialized: per process by a lock, and across processes by an exclusive
``flock`` on ``<memory_file>.lock`` (stdio: every MemoryHub process on the
host starts its own server on the same file) or a PostgreSQL advisory lock
(HTTP: one remote server). Each process keeps one long-lived session per
backend on one event-loop thread (:mod:`routing.backends.aio`). A server
that refuses the credentials (HTTP 401/403) is a permanent error.

A knowledge graph has no timestamps, so ``changes_since`` compares graphs:
its cursor is a snapshot of the MemoryHub entities the caller has been told
about — each memory id with keyed digests of its observations (never their
text) — and a page is the first ``limit`` differences from the current graph
(by memory id): a new or changed entity is an ``upsert`` with how many
observations it gained and lost, a vanished one a ``delete``. Only the
reported differences are folded into the next cursor, so the rest come on
the next page. Each call reads the whole graph (the server has no paging)
and the cursor grows with it: graphs of more than ``MAX_SNAPSHOT_ENTITIES``
MemoryHub entities are refused. Entities other writers created (other types
or names) are not MemoryHub memories and are not reported. Digests are keyed
with the Django secret key: rotating it reports every entity once more.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils.crypto import salted_hmac

from routing.backends import aio
from routing.backends.base import (
    BackendAdapter,
    Change,
    ChangePage,
    Hit,
    Item,
    ItemPage,
    PermanentError,
    Record,
    SearchScope,
    TransientError,
)
from routing.backends.changes import (
    DEFAULT_LIMIT,
    cursor_decode,
    cursor_encode,
    cursor_error,
    page_limit,
)

ENTITY_TYPE = "memoryhub_memory"
PREFIX = "memoryhub:"
SPACE_HEADER = "X-MemoryHub-Space"
MAX_SNAPSHOT_ENTITIES = 20_000
MAX_SNAPSHOT_ITEMS = 50_000
OBSERVATION = "obs:"  # external ids of observations of other writers' entities
MAX_ADOPTED_NAME = 200  # entity names longer than this are not adopted


def default_server_script() -> Path:
    """Where ``make npm-deps`` installs the official server."""

    return (
        Path(settings.BASE_DIR)
        / "var/npm/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
    )


class Adapter(BackendAdapter):
    """An MCP memory server over stdio or streamable HTTP."""

    kind = "mcp_memory"
    # Every session start and tool call has the backend's timeout (aio), and
    # the serializing locks are held by calls that have it too.
    threaded = False
    config_keys = frozenset({"command", "args", "memory_file", "url", "space"})
    secret_keys = frozenset({"api_key"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._session: aio.McpSession | None = None

    @classmethod
    def validate_config(cls, config: dict, secrets: dict) -> list[str]:
        """stdio needs an absolute ``memory_file``; HTTP needs ``url``."""
        problems = super().validate_config(config, secrets)
        url = config.get("url")
        if url:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                problems.append("url must be an http:// or https:// URL")
            return problems
        if "space" in config or "api_key" in secrets:
            problems.append("space and api_key apply to a url (HTTP) server only")
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
        # The MCP client stack loads only with a stdio server configured.
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
        """Hold this server's turn; yields the deadline of the calls made in it.

        The calls run in the caller's thread (``threaded = False``), so the
        backend's timeout covers waiting for the turn and the calls together,
        as the call pool's deadline would.
        """
        deadline = time.monotonic() + self.timeout
        if not self._lock.acquire(timeout=self.timeout):
            raise _no_turn(self.name)
        try:
            if self.config.get("url"):
                label = f"mcp_memory:{self.config['url']}"
                with _advisory_lock(label, deadline, self.name):
                    yield deadline
                return
            lock_path = Path(f"{self.config['memory_file']}.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with lock_path.open("a") as handle:
                _wait_for_turn(lambda: _try_flock(handle), deadline, self.name)
                try:
                    yield deadline
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _headers(self) -> dict[str, str]:
        """HTTP headers of a URL server: the API key and the space, if set."""
        headers = {}
        if self.secrets.get("api_key"):
            headers["Authorization"] = f"Bearer {self.secrets['api_key']}"
        if self.config.get("space"):
            headers[SPACE_HEADER] = str(self.config["space"])
        return headers

    def _refused(self, status: int) -> PermanentError:
        return PermanentError(
            f"MCP server {self.config.get('url')} refused the credentials "
            f"(HTTP {status}): check the backend's api_key secret"
        )

    def _call(self, tool: str, arguments: dict, deadline: float):
        """One tool call on the long-lived session (restarted if it broke),
        finished by ``deadline`` (``time.monotonic()``)."""
        if self._session is None or self._session.broken:
            if self._session is not None:
                self._session.close()
                self._session = None
            try:
                self._session = aio.McpSession(
                    self._server(),
                    timeout=_left(deadline, tool),
                    headers=self._headers(),
                )
            except aio.ServerRefused as exc:
                raise self._refused(exc.status) from None
        timeout = _left(deadline, tool)
        try:
            result = self._session.call_tool(tool, arguments, timeout=timeout)
        except aio.ServerRefused as exc:
            self._session.broken = True
            raise self._refused(exc.status) from None
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
        with self._serialized() as deadline:
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
                deadline,
            )
        return name

    def add_many(self, records) -> list[str]:
        """Create every record's entity in one call (existing names are skipped)."""
        if not records:
            return []
        entities = [
            {
                "name": PREFIX + record.memory_id,
                "entityType": ENTITY_TYPE,
                "observations": [record.content],
            }
            for record in records
        ]
        with self._serialized() as deadline:
            self._call("create_entities", {"entities": entities}, deadline)
        return [entity["name"] for entity in entities]

    def get(self, external_id: str) -> Hit | None:
        """The entity, if it exists."""
        with self._serialized() as deadline:
            payload = self._call("open_nodes", {"names": [external_id]}, deadline)
        for entity in self._entities(payload):
            if entity.get("name") == external_id:
                return _hit(entity)
        return None

    def update(self, external_id: str, record: Record) -> str | None:
        """Replace the entity (delete and create, under one lock); an adopted
        observation is replaced in its entity, which gives it a new id."""
        if external_id.startswith(OBSERVATION):
            return self._observation_replace(external_id, record.content)
        with self._serialized() as deadline:
            self._call("delete_entities", {"entityNames": [external_id]}, deadline)
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
                deadline,
            )

    def update_many(self, pairs) -> list[str | None]:
        """Replace MemoryHub entities in two calls (delete, create) whatever
        their number; adopted observations one by one."""
        own = [(name, r) for name, r in pairs if not name.startswith(OBSERVATION)]
        if own:
            with self._serialized() as deadline:
                names = [name for name, _ in own]
                self._call("delete_entities", {"entityNames": names}, deadline)
                entities = [
                    {
                        "name": name,
                        "entityType": ENTITY_TYPE,
                        "observations": [record.content],
                    }
                    for name, record in own
                ]
                self._call("create_entities", {"entities": entities}, deadline)
        return [
            self._observation_replace(name, record.content)
            if name.startswith(OBSERVATION)
            else None
            for name, record in pairs
        ]

    def delete(self, external_id: str) -> None:
        """Delete the entity (the server ignores unknown names); an adopted
        observation is removed from its entity, which stays."""
        if external_id.startswith(OBSERVATION):
            self._observation_replace(external_id, None)
            return
        with self._serialized() as deadline:
            self._call("delete_entities", {"entityNames": [external_id]}, deadline)

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """The server's substring search; scope is applied when mapping back."""
        with self._serialized() as deadline:
            payload = self._call("search_nodes", {"query": query}, deadline)
        entities = [
            e for e in self._entities(payload) if e.get("entityType") == ENTITY_TYPE
        ]
        return [
            _hit(entity, score=1.0 / (1 + rank))
            for rank, entity in enumerate(entities[:top_k])
        ]

    def _observation_replace(self, external_id: str, content: str | None) -> str | None:
        """Remove an adopted observation and add ``content`` in its place (none:
        only remove); the new observation's id, or None."""
        digest, _, name = external_id[len(OBSERVATION) :].partition(":")
        with self._serialized() as deadline:
            payload = self._call("open_nodes", {"names": [name]}, deadline)
            found = [
                str(o)
                for entity in self._entities(payload)
                if entity.get("name") == name
                for o in entity.get("observations") or []
                if _observation_digest(str(o)) == digest
            ]
            if found:
                self._call(
                    "delete_observations",
                    {"deletions": [{"entityName": name, "observations": found}]},
                    deadline,
                )
            if content is None:
                return None
            self._call(
                "add_observations",
                {"observations": [{"entityName": name, "contents": [content]}]},
                deadline,
            )
        return observation_id(name, content)

    def pull_since(self, cursor: str | None, *, limit: int = DEFAULT_LIMIT) -> ItemPage:
        """Observations added or removed since the cursor's snapshot, as items.

        A MemoryHub entity is one item (its memory); every observation of any
        other entity is an item of its own (``obs:<digest>:<entity name>``),
        with the entity's name and type in its metadata. The server cannot
        edit an observation, only remove one and add another: so does this
        feed. The cursor holds keyed digests, never text.
        """
        limit = page_limit(limit)
        state = cursor_decode(self.kind, cursor)
        told = {} if state is None else state.get("o")
        if not isinstance(told, dict) or not all(
            isinstance(value, str) for value in told.values()
        ):
            raise cursor_error(self.kind)
        current: dict[str, tuple[str, Item]] = {}
        for entity in self.read_graph():
            for item in _entity_items(entity):
                current[item.external_id] = (
                    _observation_digest(item.content),
                    item,
                )
        if len(current) > MAX_SNAPSHOT_ITEMS:
            raise PermanentError(
                f"the graph holds more than {MAX_SNAPSHOT_ITEMS} observations, "
                "too many for a sync snapshot"
            )
        differing = sorted(
            key
            for key in told.keys() | current.keys()
            if told.get(key) != (current[key][0] if key in current else None)
        )
        items = []
        for key in differing[:limit]:
            if key in current:
                told[key] = current[key][0]
                items.append(current[key][1])
            else:
                told.pop(key)
                items.append(
                    Item(
                        external_id=key,
                        op="delete",
                        memory_id=key[len(PREFIX) :]
                        if key.startswith(PREFIX)
                        else None,
                    )
                )
        return ItemPage(
            items=items,
            cursor=cursor_encode(self.kind, {"o": told}),
            more=len(differing) > limit,
        )

    def read_graph(self) -> list[dict]:
        """Every entity the server holds (tests and sync)."""
        with self._serialized() as deadline:
            return self._entities(self._call("read_graph", {}, deadline))

    def changes_since(
        self, cursor: str | None, *, limit: int = DEFAULT_LIMIT
    ) -> ChangePage:
        """Entities added, changed or removed since the cursor's snapshot."""
        limit = page_limit(limit)
        told = _snapshot_from_state(cursor_decode(self.kind, cursor), self.kind)
        current = _snapshot(self.read_graph())
        differing = sorted(
            key
            for key in told.keys() | current.keys()
            if told.get(key) != current.get(key)
        )
        changes = []
        for key in differing[:limit]:
            before, after = set(told.get(key, ())), current.get(key)
            if after is None:
                told.pop(key)
                changes.append(
                    Change(
                        external_id=PREFIX + key,
                        op="delete",
                        memory_id=key,
                        detail={"observations_removed": len(before)},
                    )
                )
                continue
            told[key] = after
            changes.append(
                Change(
                    external_id=PREFIX + key,
                    op="upsert",
                    memory_id=key,
                    detail={
                        "observations_added": len(set(after) - before),
                        "observations_removed": len(before - set(after)),
                    },
                )
            )
        return ChangePage(
            changes=changes,
            cursor=cursor_encode(self.kind, {"e": told}),
            more=len(differing) > limit,
        )

    def health_check(self) -> None:
        """The server answers a cheap search."""
        with self._serialized() as deadline:
            self._call("search_nodes", {"query": "memoryhub-health-probe"}, deadline)

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


def observation_id(entity_name: str, text: str) -> str:
    """The id of an adopted observation: its digest and its entity's name."""
    return f"{OBSERVATION}{_observation_digest(text)}:{entity_name}"


def _entity_items(entity: dict) -> list[Item]:
    """The sync items of one entity (see ``Adapter.pull_since``)."""
    name = entity.get("name")
    kind = entity.get("entityType")
    observations = [str(o) for o in entity.get("observations") or []]
    if not isinstance(name, str) or not name:
        return []
    if kind == ENTITY_TYPE and name.startswith(PREFIX):
        if not observations:
            return []
        return [
            Item(
                external_id=name,
                op="upsert",
                content=observations[0],
                memory_id=name[len(PREFIX) :],
            )
        ]
    if len(name) > MAX_ADOPTED_NAME:
        return []  # its observations' ids would not fit an external id
    return [
        Item(
            external_id=observation_id(name, text),
            op="upsert",
            content=text,
            metadata={"mcp_entity": name, "mcp_entity_type": str(kind or "")},
        )
        for text in dict.fromkeys(observations)
    ]


def _observation_digest(text: str) -> str:
    """A keyed digest of an observation (the cursor never holds its text)."""

    return salted_hmac("routing.mcp_memory.changes", text).hexdigest()[:16]


def _snapshot(entities: list[dict]) -> dict[str, list[str]]:
    """MemoryHub entities of a graph: memory id -> sorted observation digests."""
    snapshot = {}
    for entity in entities:
        name = entity.get("name")
        if (
            entity.get("entityType") != ENTITY_TYPE
            or not isinstance(name, str)
            or not name.startswith(PREFIX)
        ):
            continue
        snapshot[name[len(PREFIX) :]] = sorted(
            {_observation_digest(str(o)) for o in entity.get("observations") or []}
        )
    if len(snapshot) > MAX_SNAPSHOT_ENTITIES:
        raise PermanentError(
            f"the graph holds more than {MAX_SNAPSHOT_ENTITIES} MemoryHub "
            "entities, too many for a change snapshot"
        )
    return snapshot


def _snapshot_from_state(state: dict | None, kind: str) -> dict[str, list[str]]:
    """The snapshot a cursor holds, checked."""
    if state is None:
        return {}
    entities = state.get("e")
    if not isinstance(entities, dict) or not all(
        isinstance(digests, list) and all(isinstance(d, str) for d in digests)
        for digests in entities.values()
    ):
        raise cursor_error(kind)
    return entities


@contextlib.contextmanager
def _advisory_lock(label: str, deadline: float, backend: str):
    """A session-level PostgreSQL advisory lock (serializes across hosts),
    waited for until ``deadline``."""

    def take() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [label])
            return cursor.fetchone()[0]

    _wait_for_turn(take, deadline, backend)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [label])


def _try_flock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_turn(take: Callable[[], bool], deadline: float, backend: str) -> None:
    """Call ``take`` until it gets the lock, pausing 1 ms, doubling up to 20 ms."""
    pause = 0.001
    while not take():
        if time.monotonic() + pause >= deadline:
            raise _no_turn(backend)
        time.sleep(pause)
        pause = min(2 * pause, 0.02)


def _no_turn(backend: str) -> TransientError:
    return TransientError(
        f"backend {backend!r}: other calls to the MCP server held it past the timeout"
    )


def _left(deadline: float, tool: str) -> float:
    """Seconds until ``deadline``; none left is a timeout."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransientError(f"MCP tool {tool} timed out")
    return left
