"""The HNSW index of memory embeddings: what it is, and rebuilding it in place.

A rebuild (other ``m`` / ``ef_construction``, or a bloated graph after many
deletes) builds a second index with ``CREATE INDEX CONCURRENTLY`` — reads
and writes go on, and keep using the old index until the new one is valid —
then drops the old one concurrently and gives the new one its name. Progress
comes from ``pg_stat_progress_create_index`` on a second connection. An
interrupted rebuild leaves an invalid ``..._rebuild`` index, which the next
rebuild drops first. ``manage.py search_index`` is the command
(docs/operations.md, "Rebuilding the search index").
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.db import connection, connections
from pgvector.django import HnswIndex

from memories.models import EMBEDDING_DIMENSIONS, Memory
from memoryhub.db import pgvector_version

REBUILD_SUFFIX = "_rebuild"
PROGRESS_SECONDS = 2.0


def model_index() -> HnswIndex:
    """The HNSW index as the model (and so the migrations) define it."""
    return next(i for i in Memory._meta.indexes if isinstance(i, HnswIndex))


@dataclass(frozen=True)
class IndexStatus:
    name: str
    definition: str | None  # None: missing
    valid: bool
    size_bytes: int
    rows: int  # the table's row estimate
    pgvector: str

    def lines(self) -> list[str]:
        if self.definition is None:
            return [f"index {self.name}: missing (run manage.py search_index rebuild)"]
        lines = [
            f"index {self.name}: {'valid' if self.valid else 'INVALID'}, "
            f"{self.size_bytes / 2**20:.1f} MiB, about {self.rows:,} rows",
            f"definition: {self.definition}",
            f"pgvector: {self.pgvector}",
        ]
        index = model_index()
        wanted = (index.m, index.ef_construction)
        if self.parameters not in (None, wanted):
            lines.append(
                f"built with m={self.parameters[0]}, ef_construction="
                f"{self.parameters[1]}; this version builds m={wanted[0]}, "
                f"ef_construction={wanted[1]}: run manage.py search_index rebuild"
            )
        return lines

    @property
    def parameters(self) -> tuple[int, int] | None:
        """(m, ef_construction) of the live definition."""
        found = _PARAMETERS.search(self.definition or "")
        return (int(found[1]), int(found[2])) if found else None


_PARAMETERS = re.compile(r"m='?(\d+)'?, ef_construction='?(\d+)'?")


def index_status() -> IndexStatus:
    name = model_index().name
    table = Memory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid, "
            "pg_relation_size(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table]
        )
        (rows,) = cursor.fetchone()
    version = pgvector_version()
    return IndexStatus(
        name=name,
        definition=row[0] if row else None,
        valid=bool(row and row[1]),
        size_bytes=row[2] if row else 0,
        rows=max(rows, 0),
        pgvector=".".join(map(str, version)) if version else "not installed",
    )


def index_rebuild(
    *,
    m: int,
    ef_construction: int,
    maintenance_work_mem: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> IndexStatus:
    """Build the index again with ``m`` and ``ef_construction``, concurrently
    with reads and writes; ``progress`` receives one line per change."""
    if not 2 <= m <= 100:
        raise ValueError("m must be from 2 to 100 (pgvector's bounds)")
    if not 4 <= ef_construction <= 1000 or ef_construction < 2 * m:
        raise ValueError("ef_construction must be from 4 to 1000 and at least 2 * m")
    name = model_index().name
    table = Memory._meta.db_table
    temporary = name + REBUILD_SUFFIX
    column = Memory._meta.get_field("embedding").column
    url = _libpq_url()
    with psycopg.connect(url, autocommit=True) as build:
        build.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{temporary}"')
        if maintenance_work_mem:
            build.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)",
                [maintenance_work_mem],
            )
        if workers is not None:
            build.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, false)",
                [str(workers)],
            )
        done = threading.Event()
        watcher = threading.Thread(
            target=_watch, args=(url, table, build.info.backend_pid, done, progress)
        )
        watcher.start()
        began = time.monotonic()
        try:
            build.execute(
                f'CREATE INDEX CONCURRENTLY "{temporary}" ON "{table}" '  # names: ours
                f'USING hnsw ("{column}" vector_cosine_ops) '
                f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
            )
        finally:
            done.set()
            watcher.join()
        progress(f"built in {time.monotonic() - began:.1f} s; swapping")
        build.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        build.execute(f'ALTER INDEX "{temporary}" RENAME TO "{name}"')
    return index_status()


def _watch(url: str, table: str, pid: int, done: threading.Event, progress) -> None:
    """Report the build's phase and tuples from a second connection."""
    last = None
    with psycopg.connect(url, autocommit=True) as watch:
        while not done.wait(PROGRESS_SECONDS):
            row = watch.execute(
                "SELECT phase, tuples_done, tuples_total, blocks_done, blocks_total "
                "FROM pg_stat_progress_create_index WHERE pid = %s",
                [pid],
            ).fetchone()
            if row is None:
                continue
            phase, tuples_done, tuples_total, blocks_done, blocks_total = row
            if tuples_total:
                line = f"{phase}: {tuples_done:,} of {tuples_total:,} rows"
            elif blocks_total:
                line = f"{phase}: {100 * blocks_done / blocks_total:.0f}% of the table"
            else:
                line = phase
            if line != last:
                progress(line)
                last = line


def _libpq_url() -> str:
    """Connection parameters of Django's database, for connections of our own
    (a concurrent build must run outside any transaction; progress is read
    beside it)."""
    connection.ensure_connection()
    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port", "sslmode", "options")
    return psycopg.conninfo.make_conninfo(
        **{key: params[key] for key in keys if params.get(key) not in (None, "")}
    )


# --- binary codes: the first stage of a scope's full scan ------------------------

CODES_COLUMN = "embedding_codes"
CODES_INDEX = "memory_space_codes"
VECTORS_INDEX = "memory_space_vectors"  # migration 0015's, replaced by CODES_INDEX
EMBEDDING_COLUMN = Memory._meta.get_field("embedding").column
_codes_ready: dict[str, bool] = {}


def codes_ready(using: str = "default") -> bool:
    """Whether the memories table has its binary codes (a column generated
    from the embedding; pgvector 0.7 and later): checked once per process
    and database, and again after :func:`add_binary_codes`."""
    ready = _codes_ready.get(using)
    if ready is None:
        with connections[using].cursor() as cursor:
            ready = _codes_ready[using] = _codes_column(cursor) == "s"
    return ready


def _codes_column(cursor) -> str | None:
    """The codes column's ``attgenerated`` ("s": stored, generated), or None
    where the table has no such column."""
    cursor.execute(
        "SELECT attgenerated FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped",
        [Memory._meta.db_table, CODES_COLUMN],
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def can_add_binary_codes(cursor) -> bool:
    """Whether pgvector has ``binary_quantize`` (0.7 and later)."""
    cursor.execute(
        "SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'binary_quantize')"
    )
    return cursor.fetchone()[0]


def add_binary_codes(
    connection, progress: Callable[[str], None] = lambda line: None
) -> bool:
    """Give the memories table its binary codes and their covering index;
    False (nothing done) where pgvector has no ``binary_quantize``.

    Each memory's code is its embedding's signs (``binary_quantize``: 384
    bits, 48 bytes), a stored column PostgreSQL computes on every write,
    so no writer can forget it. ``memory_space_codes`` holds the codes
    beside space and user (as ``memory_space_vectors`` held the whole
    embeddings, 40 times the size): a search of a space's or a user's rows
    ranks their codes by Hamming distance from the index alone and re-ranks
    the best ones by cosine from their rows (memories.search). Adding the
    column rewrites the table under an exclusive lock (reads and writes
    wait: 252 s at a million memories on the 2-core benchmark machine, most
    of it rebuilding the HNSW graph with the table), then VACUUMs it; the
    covering indexes are built and dropped concurrently.
    Idempotent. ``connection`` is a Django connection in autocommit mode.
    """
    table = Memory._meta.db_table
    with connection.cursor() as cursor:
        if not can_add_binary_codes(cursor):
            return False
        cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{VECTORS_INDEX}"')
        began = time.monotonic()
        added = _codes_column(cursor) is None
        bits = f"bit({EMBEDDING_DIMENSIONS})"
        code = f'binary_quantize("{EMBEDDING_COLUMN}")::{bits}'
        cursor.execute(
            f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS "{CODES_COLUMN}" {bits} '
            f"GENERATED ALWAYS AS ({code}) STORED"
        )
        progress(f"codes column in place after {time.monotonic() - began:.1f} s")
        if added:
            # A rewritten table has an empty visibility map, and until VACUUM
            # fills it no index-only scan is planned (every row would be
            # fetched from the heap all the same); autovacuum sees no reason.
            began = time.monotonic()
            cursor.execute(f'VACUUM (ANALYZE) "{table}"')
            progress(f"vacuumed in {time.monotonic() - began:.1f} s")
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
            [CODES_INDEX],
        )
        row = cursor.fetchone()
        if row is not None and not row[0]:  # an interrupted build's leftover
            cursor.execute(f'DROP INDEX CONCURRENTLY "{CODES_INDEX}"')
            row = None
        if row is None:
            began = time.monotonic()
            cursor.execute(covering_index_sql(CODES_INDEX, CODES_COLUMN))
            progress(f"{CODES_INDEX} built in {time.monotonic() - began:.1f} s")
    _codes_ready.pop(connection.alias, None)
    return True


def covering_index_sql(name: str, column: str) -> str:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` of a btree on (space, user)
    that INCLUDEs what a scan of their rows reads, and ``column`` (the codes,
    or migration 0015's whole embeddings)."""
    return (
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" '  # names: ours
        f'ON "{Memory._meta.db_table}" ("space_id", "user_id") '
        f'INCLUDE ("state", "expires_at", "id", "{column}")'
    )


def drop_binary_codes(connection) -> None:
    """Undo :func:`add_binary_codes`: the embeddings' covering index as
    migration 0015 built it, and no codes."""
    table = Memory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(covering_index_sql(VECTORS_INDEX, EMBEDDING_COLUMN))
        cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{CODES_INDEX}"')
        cursor.execute(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS "{CODES_COLUMN}"')
    _codes_ready.pop(connection.alias, None)
