"""Database helpers shared by the apps."""

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import psycopg
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from pgvector.django import VectorField
from psycopg import pq

from memoryhub.threads import ProcessPool

SET_UNFLUSHED = "SET LOCAL synchronous_commit = off"


@dataclass(frozen=True)
class Bracket:
    """Statements the block of :func:`unflushed_commit` sends itself: ``first``
    before its first statement, ``last`` after its last one (both empty
    inside an enclosing transaction, which brackets the block)."""

    first: list[tuple[str, tuple]] = field(default_factory=list)
    last: list[tuple[str, tuple]] = field(default_factory=list)


@contextmanager
def unflushed_commit(using: str = "default") -> Iterator[Bracket]:
    """Run the block in a transaction whose COMMIT does not wait for the WAL flush.

    ``SET LOCAL synchronous_commit = off``: the commit returns before the
    write-ahead log reaches the disk (PostgreSQL's *asynchronous commit*). A
    database crash can lose the last few hundred milliseconds of such
    transactions (at most ``3 * wal_writer_delay``), never corrupt anything
    or reorder them. A flush can cost more than the rest of a search
    (docs/operations.md, "Measured costs"), so only work whose loss is
    harmless or accepted uses it: redoable bookkeeping (outbox deliveries,
    which are idempotent) and the audit row of a read.

    The transaction's ``BEGIN`` and setting and its ``COMMIT`` are not sent
    here: the yielded :class:`Bracket` holds them for the block to put first
    in its first :func:`run_batch` and last in its last one, so they cost no
    round trips of their own. The block must send ``first`` before any other
    statement and nothing after ``last``; if it leaves without sending
    ``last`` the transaction commits here (or rolls back on an exception).
    The connection stays in autocommit mode, so psycopg sends no ``BEGIN``
    of its own, and Django sees no atomic block: the block must not open one.

    Inside an enclosing transaction the block is a savepoint like any nested
    ``atomic`` (the bracket is empty) and commits with the enclosing work, as
    durably as that needs.
    """
    connection = connections[using]
    if connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic(using=using):  # a savepoint
            yield Bracket()
        return
    connection.ensure_connection()
    info = connection.connection.info
    bracket = Bracket(first=[("BEGIN", ()), (SET_UNFLUSHED, ())], last=[("COMMIT", ())])
    try:
        yield bracket
    except BaseException:
        if info.transaction_status != pq.TransactionStatus.IDLE:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        raise
    if info.transaction_status != pq.TransactionStatus.IDLE:
        with connection.cursor() as cursor:
            cursor.execute("COMMIT")


# Reads run beside the caller's at once, per process: two server processes
# on two cores; more would wait for a core, and each holds a connection.
BESIDE_THREADS = 2
_beside_pool = ProcessPool(BESIDE_THREADS, "db-beside")


def beside(fn: Callable, *args, using: str = "default") -> Future | None:
    """Start the read ``fn(*args)`` on another connection, to run while the
    caller runs its own statement; its future gives what ``fn`` returns (or
    raises). None where the caller should run ``fn`` itself, after its own:

    - the caller's connection is in a transaction: another connection would
      not see its uncommitted rows, nor its ``SET LOCAL`` settings;
    - ``settings.DB_PARALLEL_READS`` is off;
    - ``BESIDE_THREADS`` reads are already running beside others in this
      process: waiting for a thread would be slower than the read inline;
    - the connection pool has no connection to spare (a request holding its
      own must never wait for another's).

    Two statements then run in two PostgreSQL processes at once instead of
    one after the other. The thread takes a connection as a request does
    (pooled, checked) and gives it back after ``fn``; it runs in the
    caller's context (its request id in log lines).
    """
    connection = connections[using]
    if (
        not settings.DB_PARALLEL_READS
        or connection.in_atomic_block
        or not connection.get_autocommit()
        or not _pool_has_room(connection)
    ):
        return None
    context = contextvars.copy_context()
    return _beside_pool.try_submit(context.run, _run_beside, fn, args)


def _run_beside(fn: Callable, args: tuple):
    try:
        close_old_connections()  # as a request starts: drop a broken one
        return fn(*args)
    finally:
        close_old_connections()  # pooled: back to the pool


def _pool_has_room(connection) -> bool:
    """Whether a pooled connection could be taken without waiting (always
    True without a pool: the thread opens or keeps its own)."""
    if "pool" not in connection.settings_dict["OPTIONS"]:
        return True
    stats = connection.pool.get_stats()
    if stats.get("pool_available", 0) > 0:
        return True
    return stats.get("pool_size", 0) < stats.get("pool_max", 0)


def run_batch(cursor, statements: Sequence[tuple[str, Sequence]]) -> list:
    """Run ``(sql, params)`` statements in order; return each one's rows.

    With parameters bound client-side (Django's default for psycopg 3) they
    go as one multi-statement query string: one round trip. PostgreSQL runs
    them one after the other, each with a fresh snapshot under READ
    COMMITTED, so a statement sees what an earlier one locked or wrote.
    With ``server_side_binding`` they go one by one. A statement without a
    result (``SET``, ``UPDATE``) gives ``None``; a failing one raises, and
    the later ones do not run.
    """
    results: list = []
    if cursor.db.settings_dict["OPTIONS"].get("server_side_binding"):
        for sql, params in statements:
            cursor.execute(sql, params)
            results.append(_rows(cursor))
        return results
    cursor.execute(
        "; ".join(sql for sql, _ in statements),
        [value for _, params in statements for value in params],
    )
    while True:
        results.append(_rows(cursor))
        if not cursor.nextset():
            return results


def _rows(cursor) -> list | None:
    # The result's status, not ``cursor.description``: that builds a column
    # object per column, which is most of a small query's client-side cost.
    result = cursor.cursor.pgresult
    return cursor.fetchall() if result.status == pq.ExecStatus.TUPLES_OK else None


def model_from_row(model, fields: Sequence, values: Sequence, using: str = "default"):
    """A model instance from a plain query's row of ``fields`` (others deferred).

    Applies each field's ``from_db_value`` as a queryset would (JSON, vectors),
    without the queryset's per-query compilation.
    """
    connection = connections[using]
    converted = [
        field.from_db_value(value, None, connection)
        if hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(using, [field.attname for field in fields], converted)


def fetch_bound(
    sql: str, params: Sequence, *, dumpers: Sequence = (), using: str = "default"
) -> list[tuple]:
    """Rows of one statement whose parameters are bound by the server.

    Django binds parameters client-side (they become literals in the query
    text). A large value — a query embedding is 384 floats, about 8 KB of
    text to format, send and parse — goes faster as a binary parameter:
    ``dumpers`` are ``(class, psycopg dumper)`` pairs registered on this
    cursor only (cast the placeholder in SQL, ``%s::vector``, when the
    dumper names no type). Same connection, transaction and error
    translation as Django's cursors; rows come in text format and need the
    fields' conversions (:func:`model_from_row`).
    """
    connection = connections[using]
    with connection.wrap_database_errors:
        connection.ensure_connection()
    connection.validate_no_broken_transaction()
    cursor = _UnpreparedCursor(connection.connection)
    for cls, dumper in dumpers:
        cursor.adapters.register_dumper(cls, dumper)
    connection.validate_thread_sharing()
    # Wrapped as Django wraps its own: execute wrappers, error translation,
    # and the query log where one is kept (DEBUG, tests counting queries).
    wrapped = (
        connection.make_debug_cursor(cursor)
        if connection.queries_logged
        else connection.make_cursor(cursor)
    )
    with wrapped:
        wrapped.execute(sql, params)
        return wrapped.fetchall()


def copy_insert(objs: Sequence, using: str = "default") -> None:
    """Insert new model instances (all of one model) with one ``COPY``.

    What ``bulk_create`` does for rows whose every value is set in Python
    (primary keys included, nothing returned), without a multi-row
    ``INSERT`` of a parameter per value to compile, bind and parse: for 100
    memories (19 columns, a 384-float embedding each) 149 ms against 172
    into a million-row table, most of either the HNSW index's. Fields'
    ``pre_save`` runs (``auto_now`` timestamps) and the instances are left
    saved, as ``bulk_create`` leaves them; errors are Django's (a unique
    violation is an ``IntegrityError``), raised when the ``COPY`` ends.
    Not logged in ``connection.queries``. Vectors go as :func:`vector_text`.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[using]
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    vectors = [isinstance(f, VectorField) for f in fields]
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for obj in objs:
            row = []
            for f, vector in zip(fields, vectors, strict=True):
                value = f.pre_save(obj, True)
                if vector and value is not None:
                    row.append(vector_text(value))
                else:
                    row.append(f.get_db_prep_save(value, connection))
            copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


def vector_text(value) -> str:
    """pgvector's text form of a vector, each element to 9 significant
    digits: what a float32 (pgvector's element) needs to come back exactly,
    where pgvector's own formatting writes 17 (its float64 repr). Half the
    time: 65 against 140 µs for 384 elements."""
    elements = np.asarray(value, dtype=np.float32).tolist()
    return "[" + ",".join(["%.9g" % x for x in elements]) + "]"  # noqa: UP031


# pgvector 0.8.0 added iterative index scans (``hnsw.iterative_scan``): a
# filtered HNSW search goes on scanning the index until enough rows pass the
# filter, instead of returning the few of its ef_search candidates that do.
ITERATIVE_SCAN_SINCE = (0, 8, 0)

_pgvector_versions: dict[str, tuple[int, ...]] = {}


def pgvector_version(using: str = "default") -> tuple[int, ...] | None:
    """The ``vector`` extension's version in the database, e.g. ``(0, 8, 5)``.

    That is the extension's SQL version (``pg_extension.extversion``): after
    the server's pgvector is upgraded it stays old until ``ALTER EXTENSION
    vector UPDATE`` (a ``memories`` migration runs it). None when the
    extension is not installed.

    Read once per process and database alias, so hot paths may ask on every
    call; a missing extension is not remembered, since ``migrate`` creates
    it. Raises ``OperationalError`` if the database cannot be reached.
    """
    version = _pgvector_versions.get(using)
    if version is None:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            )
            row = cursor.fetchone()
        if row is None:
            return None
        version = _pgvector_versions[using] = parse_version(row[0])
    return version


def supports_iterative_scan(using: str = "default") -> bool:
    """Whether the database's pgvector has iterative index scans (0.8 and later)."""
    version = pgvector_version(using)
    return version is not None and version >= ITERATIVE_SCAN_SINCE


def parse_version(text: str) -> tuple[int, ...]:
    """``"0.8.5"`` -> ``(0, 8, 5)``; a part's trailing letters (``"0-dev"``) and
    whatever follows a part without leading digits are ignored."""
    numbers = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


class _UnpreparedCursor(psycopg.Cursor):
    """Never a prepared statement: psycopg prepares a query run five times,
    and PostgreSQL may then serve it with a generic plan, blind to the
    parameters a good plan depends on (the query vector and the LIMIT of a
    nearest-neighbour search: measured, a generic plan made one 4x slower)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=False, binary=binary)
