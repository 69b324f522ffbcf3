"""Access audit: one append-only row per read, search, write or delete.

Rows carry ids and counts only — never content, queries or metadata values.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.actors import Actor
from audit.models import AccessEvent
from memoryhub.db import run_batch, unflushed_commit
from memoryhub.timing import elapsed_ms

MAX_IDS_PER_EVENT = 1000


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
    "Measured costs").
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
    # The row is the request's only write (a read): its own transaction, the
    # BEGIN, setting, INSERT and COMMIT in one round trip (run_batch).
    with unflushed_commit() as bracket, connection.cursor() as cursor:
        run_batch(cursor, [*bracket.first, (_INSERT, row), *bracket.last])


_JSON = AccessEvent._meta.get_field("detail")
_INSERT = (  # the table name is the model's own constant, not input
    f"INSERT INTO {AccessEvent._meta.db_table} (at, actor, user_pk, api_key_pk, "  # noqa: S608
    "team_pk, space_pk, space_slug, action, surface, backend, memory_ids, count, "
    "detail, duration_ms) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::uuid[], %s, %s, %s)"
)
