"""Database helpers shared by the apps."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction


@contextmanager
def unflushed_commit(using: str = "default") -> Iterator[None]:
    """Run the block in a transaction whose COMMIT does not wait for the WAL flush.

    ``SET LOCAL synchronous_commit = off``: the commit returns before the
    write-ahead log reaches the disk (PostgreSQL's *asynchronous commit*). A
    database crash can lose the last few hundred milliseconds of such
    transactions (at most ``3 * wal_writer_delay``), never corrupt anything
    or reorder them. A flush costs about 4 ms on this machine's disk, more
    than the rest of a search, so only work whose loss is harmless or
    accepted uses it: redoable bookkeeping (outbox deliveries, which are
    idempotent) and the audit row of a read.

    Inside an enclosing transaction the block is a savepoint like any nested
    ``atomic`` and commits with the enclosing work, as durably as that needs.
    """
    outermost = not connections[using].in_atomic_block
    with transaction.atomic(using=using):
        if outermost:
            with connections[using].cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        yield
