"""Replication without loss: the outbox, its delivery, retries and the sweeper.

Writes to the canonical store call :func:`outbox_enqueue_for` (or the batch
variants) inside their transaction: one ``OutboxEntry`` per target backend,
holding ids only. After commit a Celery task (or, for ``sync`` rules, the
writing process itself) runs :func:`outbox_deliver` for each
(memory, backend) pair.

Delivery is *state based*: under a per-pair advisory lock it reads the
memory's current state from the canonical store and makes the backend match
it — add (if no external id yet) or update (if the version moved) while the
memory is active, delete otherwise (deleted, archived, erased, shredded).
Every pending entry of the pair up to that point is then marked delivered.
So operations on one memory reach a backend in order, and a delete is never
overtaken by an older update: the older update, delivered later, finds the
memory gone and deletes. Adds are idempotent per memory id in every adapter,
so a worker killed after the backend stored a copy but before the
``ExternalRef`` was committed cannot create a second copy.

Failures count attempts with capped exponential backoff and full jitter;
after ``MAX_ATTEMPTS`` the entries become dead letters (retryable by an
operator). An open circuit postpones without counting an attempt. The
sweeper re-dispatches pending entries whose task was lost.
"""

from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from memories.encryption.sealing import memory_content
from memories.models import Memory, MemoryState, Space
from memoryhub.db import model_from_row, run_batch, unflushed_commit
from memoryhub.dispatch import send
from memoryhub.metrics import DELIVERY_LAG
from routing import rules
from routing.backends.base import BackendError, CircuitOpen, Record
from routing.calls import backend_call
from routing.models import (
    Backend,
    ExternalRef,
    OutboxEntry,
    OutboxOp,
    OutboxState,
    RefOrigin,
    WriteMode,
)

logger = logging.getLogger(__name__)

# From the environment (memoryhub/settings.py, ``MEMORYHUB_OUTBOX_*``).
MAX_ATTEMPTS = settings.ROUTING_OUTBOX_MAX_ATTEMPTS
BACKOFF_BASE_SECONDS = settings.ROUTING_OUTBOX_BACKOFF_BASE
BACKOFF_CAP_SECONDS = settings.ROUTING_OUTBOX_BACKOFF_CAP
REDISPATCH_AFTER_SECONDS = settings.ROUTING_OUTBOX_REDISPATCH_AFTER
BUSY_RETRY_SECONDS = 1.0


# --- enqueue (inside the write's transaction) ---------------------------------


def _operation(memory, op: str) -> rules.Operation:
    space = memory.space
    return rules.Operation(
        op=op,
        space=f"{space.team.slug}/{space.slug}",
        user_id=memory.user_id,
        agent_id=memory.agent_id,
        app_id=memory.app_id,
        run_id=memory.run_id,
        categories=tuple(memory.categories or ()),
        metadata=memory.metadata or {},
    )


def _rule_targets(memory, op: str) -> tuple[list[Backend], str]:
    snap = rules.snapshot()
    if not snap.rules:
        return [], WriteMode.OUTBOX
    compiled, _ = rules.rule_for(_operation(memory, op))
    if compiled is None:
        return [], WriteMode.OUTBOX
    targets = [
        snap.backends[name]
        for name in compiled.rule.write_backends
        if name in snap.backends and snap.backends[name].allows_plaintext
    ]
    return targets, compiled.rule.write_mode


def outbox_enqueue_for(*, memory, op: str) -> int:
    """Queue replication of one memory write (call inside its transaction).

    Targets: the backends of the matching rule's write policy, plus every
    backend already holding a copy the outbox made (so updates and deletes
    reach them even after the rules changed; sync jobs keep their own).
    """
    return outbox_enqueue_many(memories=[memory], op=op)


def outbox_enqueue_many(*, memories, op: str) -> int:
    """Queue replication of several writes of the same kind (batch adds)."""
    if op not in rules.WRITE_OPERATIONS:
        raise ValueError(f"op must be one of {rules.WRITE_OPERATIONS}")
    pairs: dict[tuple, tuple[int, str]] = {}
    modes: dict[tuple, str] = {}
    for memory in memories:
        targets, mode = _rule_targets(memory, op)
        for backend in targets:
            pairs[(memory.pk, backend.pk)] = (memory.space_id, op)
            modes[(memory.pk, backend.pk)] = mode
    if op != "add":
        ids = [m.pk for m in memories]
        for memory_id, backend_id, space_id in ExternalRef.objects.filter(
            memory_id__in=ids, origin=RefOrigin.OUTBOX
        ).values_list("memory_id", "backend_id", "space_id"):
            pairs.setdefault((memory_id, backend_id), (space_id, op))
    # A memory added in this transaction has no earlier entries: its
    # sequences start at 1 without asking the table.
    return _create_entries(pairs, modes, fresh=op == "add")


def outbox_enqueue_deletes(*, memory_ids, space_id: int) -> int:
    """Queue deletion of erased memories from every backend holding a copy."""
    pairs = {
        (memory_id, backend_id): (space_id, "delete")
        for memory_id, backend_id in ExternalRef.objects.filter(
            memory_id__in=list(memory_ids)
        ).values_list("memory_id", "backend_id")
    }
    # Copies still in flight (no external id yet) must be deleted too.
    for memory_id, backend_id in (
        OutboxEntry.objects.filter(
            memory_id__in=list(memory_ids), state=OutboxState.PENDING
        )
        .values_list("memory_id", "backend_id")
        .distinct()
    ):
        pairs.setdefault((memory_id, backend_id), (space_id, "delete"))
    return _create_entries(pairs, {})


def _create_entries(pairs: dict, modes: dict, *, fresh: bool = False) -> int:
    """Insert the next entry of each (memory, backend) pair and dispatch after commit.

    ``fresh``: the memories are new, so no pair has an earlier sequence.
    Returns the number of entries. They go in as plain multi-row ``INSERT``s:
    every replicated write pays for this inside its transaction, and the
    model layer's ``bulk_create`` cost more than the insert itself.
    """
    if not pairs:
        return 0
    memory_ids = {memory_id for memory_id, _ in pairs}
    last = (
        {}
        if fresh
        else {
            (row["memory_id"], row["backend_id"]): row["top"]
            for row in OutboxEntry.objects.filter(memory_id__in=memory_ids)
            .values("memory_id", "backend_id")
            .annotate(top=Max("seq"))
        }
    )
    now = timezone.now()
    rows = []
    for (memory_id, backend_id), (space_id, op) in pairs.items():
        seq = last.get((memory_id, backend_id), 0) + 1
        rows.append(
            (
                memory_id,
                space_id,
                backend_id,
                OutboxOp.DELETE if op == "delete" else OutboxOp.UPSERT,
                seq,
                f"{memory_id}:{backend_id}:{seq}",  # the idempotency key
                OutboxState.PENDING,
                0,  # attempts
                now,  # next_at
                now,  # dispatched_at
                "",  # last_error
                now,  # created_at
            )
        )
    with connection.cursor() as cursor:
        for low in range(0, len(rows), _INSERT_ROWS):
            chunk = rows[low : low + _INSERT_ROWS]
            cursor.execute(
                _INSERT + ", ".join([_ROW] * len(chunk)),
                [value for row in chunk for value in row],
            )
    sync = [pair for pair, mode in modes.items() if mode == WriteMode.SYNC]
    queued = [pair for pair in pairs if pair not in set(sync)]
    transaction.on_commit(lambda: _after_commit(sync, queued))
    return len(rows)


_INSERT_COLUMNS = (
    "memory_id, space_id, backend_id, op, seq, idempotency_key, state, attempts, "
    "next_at, dispatched_at, last_error, created_at"
)
_INSERT = f"INSERT INTO {OutboxEntry._meta.db_table} ({_INSERT_COLUMNS}) VALUES "  # noqa: S608 (model constant)
_ROW = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS.split(","))) + ")"
_INSERT_ROWS = 2000  # rows per statement (12 parameters each)


def _after_commit(sync: list[tuple], queued: list[tuple]) -> None:
    for memory_id, backend_id in sync:
        try:
            result = outbox_deliver(memory_id=memory_id, backend_id=backend_id)
        except Exception:
            logger.exception("synchronous delivery failed; left to the worker")
            result = DeliveryResult("error", retry_in=BACKOFF_BASE_SECONDS)
        if result.retry_in is not None:
            dispatch(memory_id, backend_id, countdown=result.retry_in)
    for memory_id, backend_id in queued:
        dispatch(memory_id, backend_id)


def dispatch(memory_id, backend_id: int, countdown: float = 0.0) -> None:
    """Send the delivery task for one pair (never raises: the sweeper catches up)."""
    # Tasks import this module (the accepted task <-> service pair).
    from routing.tasks import outbox_deliver_task

    if countdown and outbox_deliver_task.app.conf.task_always_eager:
        return  # eager mode ignores countdowns: a retry would recurse at once
    sent = send(
        outbox_deliver_task,
        args=[str(memory_id), backend_id],
        countdown=countdown,
        what="an outbox delivery",
    )
    if not sent:  # not dispatched after all: the sweeper's next pass takes it
        OutboxEntry.objects.filter(
            memory_id=memory_id, backend_id=backend_id, state=OutboxState.PENDING
        ).update(dispatched_at=None)


# --- delivery -----------------------------------------------------------------


@dataclass
class DeliveryResult:
    """What a delivery did; ``retry_in`` (seconds) when it must run again."""

    status: str  # delivered | nothing | busy | failed | dead | postponed
    retry_in: float | None = None


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with full jitter (outbox and webhooks)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def record_of(memory) -> Record:
    """What a backend receives of a memory (its space set; content decrypted)."""
    return Record(
        memory_id=str(memory.pk),
        space_uuid=str(memory.space.uuid),
        content=memory_content(memory, memory.space),
        user_id=memory.user_id,
        agent_id=memory.agent_id,
        app_id=memory.app_id,
        run_id=memory.run_id,
        metadata=dict(memory.metadata or {}),
        categories=tuple(memory.categories or ()),
        version=memory.version,
    )


@dataclass(frozen=True)
class _Pending:
    pk: int
    seq: int
    attempts: int
    created_at: object  # when the write queued it (the delivery lag's start)


@dataclass(frozen=True)
class _Ref:
    pk: int
    external_id: str
    applied_seq: int
    applied_version: int


@dataclass
class _Claim:
    """What one delivery starts from, read under the pair's lock."""

    entries: list[_Pending]
    backend: Backend | None
    ref: _Ref | None
    memory: object | None  # the Memory with its space, while a copy belongs


def _claim(cursor, prelude: list, memory_id, backend_id: int) -> _Claim | None:
    """Lock the pair and read everything delivery needs; ``None`` if busy.

    One round trip (:func:`memoryhub.db.run_batch`). The advisory lock
    serialises deliveries of one pair across workers: a second worker
    returns at once and retries, rather than waiting. Its outcome is kept
    in a transaction-local setting that gates the reads after it, so a
    worker that did not get the lock neither waits on the entries' row
    locks nor reads anything; and as each statement of the batch takes its
    own snapshot, the reads see everything committed before the lock.

    The backend comes from the routing snapshot (:func:`routing.rules.snapshot`,
    reloaded when the configuration changes), like every routed read.
    """
    fields = _claim_fields()
    results = run_batch(
        cursor,
        [
            *prelude,
            (_SQL_LOCK, [f"outbox:{memory_id}:{backend_id}"]),
            (_SQL_PENDING, [memory_id, backend_id]),
            (_SQL_REF, [memory_id, backend_id]),
            (fields.memory_sql, [memory_id]),
            (fields.space_sql, [memory_id]),
        ],
    )
    locked, pending, ref_rows, memory_rows, space_rows = results[len(prelude) :]
    if locked[0][0] != "on":
        return None
    return _Claim(
        entries=[_Pending(*row) for row in pending],
        backend=rules.snapshot().backends_by_id.get(backend_id),
        ref=_Ref(*ref_rows[0]) if ref_rows else None,
        memory=(  # (a space goes only after its memories: both or neither)
            _canonical(fields, memory_rows[0], space_rows[0])
            if memory_rows and space_rows
            else None
        ),
    )


def outbox_deliver(*, memory_id, backend_id: int) -> DeliveryResult:
    """Make ``backend`` match the canonical state of one memory (see module doc).

    Two round trips around the backend call: the claim (``BEGIN``, the
    setting, the lock and every read: one batch) and the bookkeeping with
    the ``COMMIT`` (one batch). Every replicated write runs this once per
    backend; statement by statement it took ten round trips.
    """

    # Delivery is idempotent: a delivery lost to a database crash is redone.
    with (
        unflushed_commit() as bracket,
        connection.cursor() as cursor,
    ):
        claim = _claim(cursor, bracket.first, memory_id, backend_id)
        if claim is None:
            return DeliveryResult("busy", retry_in=BUSY_RETRY_SECONDS)
        entries, backend, ref = claim.entries, claim.backend, claim.ref
        if not entries:
            return DeliveryResult("nothing")
        now = timezone.now()
        if backend is None or not backend.enabled:
            _postpone(entries, now, 60.0, "backend disabled")
            return DeliveryResult("postponed", retry_in=60.0)
        memory = claim.memory if backend.allows_plaintext else None
        last_seq = entries[-1].seq
        settle = []
        try:
            if memory is not None and ref is None:
                external_id = backend_call(backend, "add", record_of(memory))
                values = (memory_id, memory.space_id, backend_id, external_id)
                settle.append(
                    (_SQL_REF_INSERT, [*values, last_seq, memory.version, now, now])
                )
            elif memory is not None:
                moved = None
                if ref.applied_version != memory.version:
                    moved = backend_call(
                        backend, "update", ref.external_id, record_of(memory)
                    )
                settle.append(
                    (_SQL_REF_APPLIED, [last_seq, memory.version, now, moved, ref.pk])
                )
            elif ref is not None:
                backend_call(backend, "delete", ref.external_id)
                settle.append((_SQL_REF_DELETE, [ref.pk]))
        except CircuitOpen:
            _postpone(entries, now, 10.0, "circuit open")
            return DeliveryResult("postponed", retry_in=10.0)
        except BackendError as exc:
            return _fail(entries, now, f"{type(exc).__name__}: {exc}"[:300])
        settle.append((_SQL_DELIVERED, [now, [e.pk for e in entries]]))
        run_batch(cursor, [*settle, *bracket.last])
        DELIVERY_LAG.labels(backend.name).observe(
            (timezone.now() - entries[0].created_at).total_seconds()
        )
        return DeliveryResult("delivered")


def _canonical(fields: _ClaimFields, memory_row, space_row):
    """The memory with its space if a backend should hold a copy, else ``None``.

    A copy belongs in a backend only while the memory is active and its
    space not shredded; anything else (deleted, archived, erased, shredded)
    makes delivery delete the copy.
    """

    memory = model_from_row(Memory, fields.memory, memory_row)
    space = model_from_row(Space, fields.space, space_row)
    if memory.state != MemoryState.ACTIVE or space.shredded_at is not None:
        return None
    memory.space = space
    return memory


@dataclass(frozen=True)
class _ClaimFields:
    """The columns the claim reads, and its statements that depend on them."""

    memory: tuple
    space: tuple
    memory_sql: str
    space_sql: str


# What a copy is built from (:func:`_record`, decryption) and what decides
# whether one belongs; the other columns stay deferred. A deferred column
# read by mistake costs a query of its own, which the delivery tests count.
_MEMORY_FIELDS = frozenset(
    {"id", "space", "content", "user_id", "agent_id", "app_id", "run_id"}
    | {"metadata", "categories", "state", "version"}
)
_SPACE_FIELDS = frozenset(
    {"id", "uuid", "team", "slug", "index_key_wrapped", "shredded_at"}
)


@functools.cache
def _claim_fields() -> _ClaimFields:
    """The claim's columns of a memory and its space (built once: the models
    do not change)."""

    def columns(fields) -> str:
        return ", ".join(connection.ops.quote_name(field.column) for field in fields)

    def fields(model, names) -> tuple:
        return tuple(f for f in model._meta.concrete_fields if f.name in names)

    memory, space = fields(Memory, _MEMORY_FIELDS), fields(Space, _SPACE_FIELDS)
    memories, spaces = Memory._meta.db_table, Space._meta.db_table
    return _ClaimFields(
        memory=memory,
        space=space,
        memory_sql=(
            f"SELECT {columns(memory)} FROM {memories} "  # noqa: S608
            f"WHERE id = %s AND {_LOCKED}"
        ),
        space_sql=(
            f"SELECT {columns(space)} FROM {spaces} "  # noqa: S608
            f"WHERE id = (SELECT space_id FROM {memories} WHERE id = %s) AND {_LOCKED}"
        ),
    )


# Table names are the models' own constants, not input. The claim's reads
# run only if its lock was taken (``_LOCKED``; see :func:`_claim`).
_OUTBOX, _REFS = OutboxEntry._meta.db_table, ExternalRef._meta.db_table
_LOCK_SETTING = "memoryhub.outbox_locked"
_SQL_LOCK = (
    f"SELECT set_config('{_LOCK_SETTING}', "
    "CASE WHEN pg_try_advisory_xact_lock(hashtext(%s)) THEN 'on' ELSE 'off' END, "
    "true)"
)
_LOCKED = f"current_setting('{_LOCK_SETTING}') = 'on'"
_SQL_PENDING = (
    f"SELECT id, seq, attempts, created_at FROM {_OUTBOX} "  # noqa: S608
    f"WHERE memory_id = %s AND backend_id = %s AND state = 'pending' AND {_LOCKED} "
    "ORDER BY seq FOR UPDATE"
)
_SQL_REF = (
    f"SELECT id, external_id, applied_seq, applied_version FROM {_REFS} "  # noqa: S608
    f"WHERE memory_id = %s AND backend_id = %s AND {_LOCKED}"
)
_SQL_REF_INSERT = (
    f"INSERT INTO {_REFS} (memory_id, space_id, backend_id, external_id, "  # noqa: S608
    "applied_seq, applied_version, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_SQL_REF_APPLIED = (
    f"UPDATE {_REFS} SET applied_seq = GREATEST(applied_seq, %s), "  # noqa: S608
    "applied_version = %s, updated_at = %s, "
    "external_id = COALESCE(%s::varchar, external_id) WHERE id = %s"
)
_SQL_REF_DELETE = f"DELETE FROM {_REFS} WHERE id = %s"  # noqa: S608
_SQL_DELIVERED = (
    f"UPDATE {_OUTBOX} SET state = 'delivered', delivered_at = %s, "  # noqa: S608
    "last_error = '' WHERE id = ANY(%s)"
)


def _postpone(entries, now, seconds: float, reason: str) -> None:
    OutboxEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
        next_at=now + timedelta(seconds=seconds),
        dispatched_at=now + timedelta(seconds=seconds),
        last_error=reason,
    )


def _fail(entries, now, message: str) -> DeliveryResult:
    attempts = max(e.attempts for e in entries) + 1
    if attempts >= MAX_ATTEMPTS:
        OutboxEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
            state=OutboxState.DEAD, attempts=attempts, last_error=message
        )
        logger.warning("outbox entries dead after %s attempts: %s", attempts, message)
        return DeliveryResult("dead")
    delay = backoff_seconds(attempts)
    OutboxEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
        attempts=attempts,
        next_at=now + timedelta(seconds=delay),
        dispatched_at=now + timedelta(seconds=delay),
        last_error=message,
    )
    return DeliveryResult("failed", retry_in=delay)


# --- operators and the sweeper ------------------------------------------------


def outbox_retry(*, entry_ids) -> int:
    """Put dead (or stuck) entries back to pending and dispatch them now."""
    now = timezone.now()
    entries = OutboxEntry.objects.filter(pk__in=list(entry_ids)).exclude(
        state=OutboxState.DELIVERED
    )
    pairs = set(entries.values_list("memory_id", "backend_id"))
    count = entries.update(
        state=OutboxState.PENDING, attempts=0, next_at=now, dispatched_at=now
    )
    transaction.on_commit(lambda: [dispatch(m, b) for m, b in pairs])
    return count


def outbox_sweep(*, limit: int = 500) -> int:
    """Re-dispatch pending pairs that are due and whose task seems lost."""
    now = timezone.now()
    stale = now - timedelta(seconds=REDISPATCH_AFTER_SECONDS)
    due = OutboxEntry.objects.filter(
        state=OutboxState.PENDING, next_at__lte=now
    ).filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=stale))
    pairs = list(due.values_list("memory_id", "backend_id").distinct()[:limit])
    if not pairs:
        return 0
    for memory_id, backend_id in pairs:
        OutboxEntry.objects.filter(
            memory_id=memory_id, backend_id=backend_id, state=OutboxState.PENDING
        ).update(dispatched_at=now)
        dispatch(memory_id, backend_id)
    return len(pairs)
