"""Access audit: one append-only row per read, search, write or delete.

Rows carry ids and counts only — never content, queries or metadata values.
"""

import logging
from collections.abc import Iterable
from contextvars import ContextVar

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.actors import Actor
from audit.models import AccessEvent
from memoryhub.db import run_batch, unflushed_commit
from memoryhub.timing import elapsed_ms

MAX_IDS_PER_EVENT = 1000
logger = logging.getLogger(__name__)
# The read rows of the current request, written once its response is sent
# (DeferredAuditMiddleware); None outside a request: written at once.
_after_response: ContextVar[list | None] = ContextVar("audit_rows", default=None)


def access_record(
    *,
    actor: Actor,
    action: str,
    surface: str,
    space=None,
    memory_ids: Iterable = (),
    count: int | None = None,
    detail: dict | None = None,
    backend: str = "local",
    team_pk: int | None = None,
) -> None:
    """Append an audit row; ids beyond ``MAX_IDS_PER_EVENT`` are counted, not listed.

    ``space`` is any object with ``pk``, ``slug`` and ``team_id`` (a
    :class:`memories.models.Space`; the audit sits below memories and names
    none of its models). ``team_pk`` attributes a row without a space (API
    key changes) to a team.
    Every request writes one, so it is one plain ``INSERT`` without
    the model layer's per-call query compilation (its cost:
    docs/operations.md, "Measured costs").

    Inside a transaction (every write) the row commits with the write. On
    its own (a read: search, get, list, export) it is the request's only
    write, and unless ``MEMORYHUB_AUDIT_FLUSH_READS`` is set its commit does
    not wait for the WAL flush (as in :func:`memoryhub.db.unflushed_commit`):
    a database crash may lose the last fraction of a second of read records,
    and a search does not wait for a disk flush (its cost: docs/operations.md,
    "Measured costs"). In a web request such a row is written once the
    response has been sent (:class:`DeferredAuditMiddleware`): the client
    does not wait for the round trip either.
    """
    ids = list(memory_ids)
    if space is not None:
        team_pk = space.team_id
    elif team_pk is None:
        team_pk = actor.team_id
    row = (
        timezone.now(),
        actor.label,
        actor.user.pk if actor.user is not None else None,
        actor.api_key.pk if actor.api_key is not None else None,
        team_pk,
        space.pk if space is not None else None,
        space.slug if space is not None else "",
        action,
        surface,
        backend,
        [str(memory_id) for memory_id in ids[:MAX_IDS_PER_EVENT]],
        len(ids) if count is None else count,
        _JSON.get_db_prep_value(detail or {}, connection),
        elapsed_ms(),
    )
    if settings.AUDIT_FLUSH_READS or connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, row)
        return
    pending = _after_response.get()
    if pending is not None:
        pending.append(row)
        return
    _insert_reads([row])


def _insert_reads(rows: list[tuple]) -> None:
    """Read rows, the request's only writes: their own transaction, the
    BEGIN, setting, INSERTs and COMMIT in one round trip (run_batch)."""
    with unflushed_commit() as bracket, connection.cursor() as cursor:
        run_batch(
            cursor, [*bracket.first, *((_INSERT, row) for row in rows), *bracket.last]
        )


class DeferredAuditMiddleware:
    """Writes a request's read audit rows after its response is sent.

    The rows are kept in a context variable during the request and written
    when the WSGI server closes the response, which it does after sending
    it (Django's response closers run before ``request_finished``, so the
    connection is still the request's). A failure then is one warning line:
    the client has its answer already.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        rows: list = []
        token = _after_response.set(rows)
        try:
            response = self.get_response(request)
        except BaseException:
            _after_response.reset(token)
            _write_after_response(rows)
            raise
        _after_response.reset(token)
        # Django runs a response's closers when the server closes it.
        response._resource_closers.append(lambda: _write_after_response(rows))
        return response


def _write_after_response(rows: list) -> None:
    if not rows:
        return
    pending, rows[:] = list(rows), []
    try:
        _insert_reads(pending)
    except Exception as exc:  # Django's close() would swallow it unseen
        logger.warning(
            "%d read audit row(s) could not be written: %s",
            len(pending),
            type(exc).__name__,
        )


_JSON = AccessEvent._meta.get_field("detail")
_INSERT = (  # the table name is the model's own constant, not input
    f"INSERT INTO {AccessEvent._meta.db_table} (at, actor, user_pk, api_key_pk, "  # noqa: S608
    "team_pk, space_pk, space_slug, action, surface, backend, memory_ids, count, "
    "detail, duration_ms) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::uuid[], %s, %s, %s)"
)
