"""``local``: MemoryHub's own PostgreSQL store, the canonical copy.

Writes to it happen in the memory services themselves, so ``add``/``update``/
``delete`` here are no-ops that return the MemoryHub id; ``search`` ranks the
space's memories with :func:`memories.search.search_memories` (hybrid), and
``get`` reads one row. It runs in the caller's thread and database
connection (``threaded = False``).

``changes_since`` reads two streams, each a :class:`~routing.backends.changes.
TimeWindow` in the cursor: memory rows by (``updated_at``, id) — an active or
archived memory is an ``upsert``, a soft-deleted one a ``delete`` — and then,
once those are caught up, erasures from the audit log (``memory.erase``
rows, whose ids are the erased memories). Erased memories never come back,
so reporting them after the rows is safe. The audit log lists at most
1000 ids per erase call (the rest are only counted), and a shredded space's
purge lists none: a consumer that mirrors erasures of that size reconciles
with ``get``.
"""

from __future__ import annotations

from audit.models import AccessEvent
from memories.embedding import embed_texts
from memories.encryption import keyring
from memories.keywords import keyword_terms
from memories.models import Memory, MemoryState, Space
from memories.search import search_memories
from memories.selectors import memories_in
from routing.backends.base import (
    BackendAdapter,
    Change,
    ChangePage,
    Hit,
    Record,
    SearchScope,
)
from routing.backends.changes import (
    DEFAULT_LIMIT,
    TimeWindow,
    cursor_encode,
    cursor_windows,
    page_limit,
)

ERASE_ACTION = "memory.erase"


class Adapter(BackendAdapter):
    """The canonical store as a backend."""

    kind = "local"
    threaded = False

    def add(self, record: Record) -> str:
        """The canonical copy already exists: its id is the MemoryHub id."""
        return record.memory_id

    def update(self, external_id: str, record: Record) -> None:
        """Nothing to do: the memory services wrote the canonical copy."""

    def delete(self, external_id: str) -> None:
        """Nothing to do: the memory services deleted the canonical copy."""

    def get(self, external_id: str) -> Hit | None:
        """The memory row with this id, if it is live."""
        found = (
            Memory.objects.filter(pk=external_id)
            .exclude(state=MemoryState.DELETED)
            .values_list("pk", flat=True)
            .first()
        )
        if found is None:
            return None
        return Hit(external_id=str(found), memory_id=str(found))

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """Hybrid search over the space's active memories."""

        space = Space.objects.get(pk=scope.space_pk)
        queryset = memories_in(space=space)
        for field in ("user_id", "agent_id", "app_id", "run_id"):
            if getattr(scope, field):
                queryset = queryset.filter(**{field: getattr(scope, field)})
        tokens, rare = keyword_terms(keyring.index_key(space), query)
        hits = search_memories(
            queryset=queryset,
            query_embedding=embed_texts([query])[0],
            query_tokens=tokens,
            rare_tokens=rare,
            top_k=top_k,
            threshold=None,
            mode="hybrid",
        )
        return [
            Hit(external_id=str(m.pk), memory_id=str(m.pk), score=float(s or 0))
            for m, s in hits
        ]

    def changes_since(
        self, cursor: str | None, *, limit: int = DEFAULT_LIMIT
    ) -> ChangePage:
        """Changed memories after ``cursor``, then erasures (see the module doc)."""
        limit = page_limit(limit)
        rows, erased = cursor_windows(self.kind, cursor, "m", "e")
        changes, more = _row_changes(rows, limit)
        room = limit - len(changes)
        if more or not room:
            more = True  # erasures wait until the rows are caught up
        else:
            gone, more = _erasures(erased, room)
            changes += gone
        return ChangePage(
            changes=changes,
            cursor=cursor_encode(self.kind, {"m": rows.state(), "e": erased.state()}),
            more=more,
        )

    def health_check(self) -> None:
        """The database answers (it is this process's own connection)."""
        Memory.objects.exists()


def _row_changes(window: TimeWindow, limit: int) -> tuple[list[Change], bool]:
    """Memory rows changed in ``window``: upserts, and soft deletes."""
    queryset = Memory.objects.order_by("updated_at", "id")
    start = window.read_from()
    if start is not None:
        queryset = queryset.filter(updated_at__gte=start)
    size = window.fetch_size(limit)
    found = list(
        queryset.values_list("pk", "updated_at", "state", "space__uuid")[:size]
    )
    items = [
        (
            at,
            str(pk),
            Change(
                external_id=str(pk),
                op="delete" if state == MemoryState.DELETED else "upsert",
                memory_id=str(pk),
                detail={"space": str(space)},
            ),
        )
        for pk, at, state, space in found
    ]
    return window.take(items, limit=limit, exhausted=len(found) < size)


def _erasures(window: TimeWindow, limit: int) -> tuple[list[Change], bool]:
    """Memories erased in ``window`` (from the audit log)."""
    queryset = AccessEvent.objects.filter(action=ERASE_ACTION).order_by("at", "id")
    start = window.read_from()
    if start is not None:
        queryset = queryset.filter(at__gte=start)
    size = window.fetch_size(limit)
    found = list(queryset.values_list("pk", "at", "memory_ids", "space_pk")[:size])
    spaces = dict(
        Space.objects.filter(pk__in={row[3] for row in found}).values_list("pk", "uuid")
    )
    items = [
        (
            at,
            f"{pk:020d}/{memory_id}",
            Change(
                external_id=str(memory_id),
                op="delete",
                memory_id=str(memory_id),
                detail={"space": str(spaces.get(space_pk, "")), "erased": True},
            ),
        )
        for pk, at, memory_ids, space_pk in found
        for memory_id in memory_ids
    ]
    return window.take(items, limit=limit, exhausted=len(found) < size)
