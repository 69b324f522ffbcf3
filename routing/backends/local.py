"""``local``: MemoryHub's own PostgreSQL store, the canonical copy.

Writes to it happen in the memory services themselves, so ``add``/``update``/
``delete`` here are no-ops that return the MemoryHub id; ``search`` ranks the
space's memories with :func:`memories.search.search_memories` (hybrid), and
``get`` reads one row. It runs in the caller's thread and database
connection (``threaded = False``).
"""

from __future__ import annotations

from memories.models import Memory, MemoryState, Space
from routing.backends.base import BackendAdapter, Hit, Record, SearchScope


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
        from memories import keyring
        from memories.search import search_memories
        from memories.selectors import memories_in
        from memories.services import embed_texts
        from memoryhub.crypto import blind_tokens

        space = Space.objects.get(pk=scope.space_pk)
        queryset = memories_in(space=space)
        for field in ("user_id", "agent_id", "app_id", "run_id"):
            if getattr(scope, field):
                queryset = queryset.filter(**{field: getattr(scope, field)})
        hits = search_memories(
            queryset=queryset,
            query_embedding=embed_texts([query])[0],
            query_tokens=blind_tokens(keyring.index_key(space), query),
            top_k=top_k,
            threshold=None,
            mode="hybrid",
        )
        return [
            Hit(external_id=str(m.pk), memory_id=str(m.pk), score=float(s or 0))
            for m, s in hits
        ]

    def health_check(self) -> None:
        """The database answers (it is this process's own connection)."""
        Memory.objects.exists()
