"""Reads that cross a permission boundary: spaces, memories, search, history.

Every function takes the actor and scopes the queryset *before* lookup, so an
object the caller may not see is a 404, never a 403.
"""

import time
from concurrent.futures import Future
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from accounts.actors import Actor
from audit.models import AccessEvent
from audit.services import access_record
from memories import permissions
from memories.adapter import routing_adapter
from memories.embedding import embed_texts
from memories.encryption import keyring
from memories.encryption.sealing import event_contents, memories_decrypt
from memories.filters import compile_filters
from memories.keywords import keyword_terms
from memories.models import Memory, MemoryEvent, MemoryState, Space, expired_q
from memories.permissions import require_perm
from memories.search import MAX_EF_SEARCH, Scope, search_memories
from memoryhub.crypto import blind_tokens
from memoryhub.errors import InvalidInput, NotFound
from memoryhub.metrics import SEARCH_PHASE

SEARCH_MODES = ("hybrid", "vector", "keyword")


def memories_in(
    *, space: Space, include_expired: bool = False, states=(MemoryState.ACTIVE,)
) -> QuerySet[Memory]:
    """Base queryset of a space's memories (expired and deleted hidden by default)."""
    qs = Memory.objects.filter(space=space, state__in=list(states))
    if not include_expired:
        qs = qs.exclude(expired_q())
    return qs.defer("keyword_index", "embedding")


def _keyword_tokens(space: Space):
    """The blind-index tokenizer of ``space`` for ``keywords`` filters."""
    return lambda text: blind_tokens(keyring.index_key(space), text)


def memories_list(
    *,
    actor: Actor,
    space: Space,
    filters: dict | None = None,
    states=(MemoryState.ACTIVE,),
    include_expired: bool = False,
) -> QuerySet[Memory]:
    """The memories of ``space`` in ``states`` matching ``filters`` (not decrypted).

    Expired memories are hidden unless ``include_expired``. Callers paginate
    the queryset and pass the page to :func:`memory_page_decrypt`, which
    decrypts and audits it.
    """
    require_perm(actor, space, permissions.VIEW)
    return memories_in(
        space=space, states=states, include_expired=include_expired
    ).filter(compile_filters(filters, keyword_tokens=_keyword_tokens(space)))


def memory_get(
    *,
    actor: Actor,
    space: Space,
    memory_id,
    surface: str = "api",
    include_deleted: bool = False,
) -> Memory:
    """One memory with its plaintext; audited as a read."""
    require_perm(actor, space, permissions.VIEW)
    states = (
        list(MemoryState)
        if include_deleted
        else [MemoryState.ACTIVE, MemoryState.ARCHIVED]
    )
    memory = (
        memories_in(space=space, states=states, include_expired=include_deleted)
        .filter(pk=memory_id)
        .first()
    )
    if memory is None:
        raise NotFound(f"memory {memory_id} not found in space {space.slug!r}")
    memories_decrypt([memory], space)
    access_record(
        actor=actor,
        action="memory.read",
        surface=surface,
        space=space,
        memory_ids=[memory.pk],
    )
    return memory


def memory_page_decrypt(
    *,
    actor: Actor,
    space: Space,
    memories,
    surface: str = "api",
    action: str = "memory.list",
) -> list[Memory]:
    """Decrypt a page of listed memories and audit the read (``view_space`` needed)."""
    require_perm(actor, space, permissions.VIEW)
    memories = memories_decrypt(list(memories), space)
    access_record(
        actor=actor,
        action=action,
        surface=surface,
        space=space,
        memory_ids=[m.pk for m in memories],
    )
    return memories


def memory_search(
    *,
    actor: Actor,
    space: Space,
    query: str,
    top_k: int = 10,
    threshold: float | None = None,
    filters: dict | None = None,
    mode: str = "hybrid",
    surface: str = "api",
    queryset=None,
    routing_info: dict | None = None,
    pending_embedding: Future | None = None,
    ef_search: int | None = None,
) -> list[Memory]:
    """Semantic (+ keyword) search in a space.

    Each result carries ``score`` and ``plaintext``. A routing rule with a
    non-local read strategy for this space sends hybrid and vector searches
    to its backends (through :func:`memories.adapter.routing_adapter`); ``mode``,
    ``threshold`` and ``ef_search`` then do not apply and ``score`` is the
    fused rank score. ``ef_search`` (1 to ``MAX_EF_SEARCH``) is this
    search's HNSW depth instead of the server's ``MEMORYHUB_HNSW_EF_SEARCH``:
    more finds the exact nearest memories more often and takes longer.
    ``routing_info``, if given, is filled with which rule and backends served.
    ``pending_embedding``: ``query``'s embedding, started earlier with
    :func:`memories.embedding.embed_soon` (the caller's business that it is
    this query's); used if the search needs one.
    """
    try:
        return _search(
            actor=actor,
            space=space,
            query=query,
            top_k=top_k,
            threshold=threshold,
            filters=filters,
            mode=mode,
            surface=surface,
            queryset=queryset,
            routing_info=routing_info,
            pending_embedding=pending_embedding,
            ef_search=ef_search,
        )
    finally:
        if pending_embedding is not None:
            pending_embedding.cancel()  # unused (refused, routed): not started


def _search(
    *,
    actor: Actor,
    space: Space,
    query: str,
    top_k: int,
    threshold: float | None,
    filters: dict | None,
    mode: str,
    surface: str,
    queryset,
    routing_info: dict | None,
    pending_embedding: Future | None,
    ef_search: int | None = None,
) -> list[Memory]:
    """:func:`memory_search`'s work (which cancels an embedding left unused)."""
    require_perm(actor, space, permissions.VIEW)
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must be a non-empty string", field="query")
    if len(query) > settings.MEMORY_MAX_CONTENT_CHARS:
        raise InvalidInput(
            f"query must be at most {settings.MEMORY_MAX_CONTENT_CHARS} characters",
            field="query",
        )
    if mode not in SEARCH_MODES:
        raise InvalidInput(
            f"mode must be one of {', '.join(SEARCH_MODES)}", field="mode"
        )
    if (
        not isinstance(top_k, int)
        or isinstance(top_k, bool)
        or not 1 <= top_k <= settings.SEARCH_MAX_TOP_K
    ):
        raise InvalidInput(
            f"top_k must be an integer from 1 to {settings.SEARCH_MAX_TOP_K}",
            field="top_k",
        )
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float))
    ):
        raise InvalidInput("threshold must be a number", field="threshold")
    if ef_search is not None and (
        not isinstance(ef_search, int)
        or isinstance(ef_search, bool)
        or not 1 <= ef_search <= MAX_EF_SEARCH
    ):
        raise InvalidInput(
            f"ef_search must be an integer from 1 to {MAX_EF_SEARCH}",
            field="ef_search",
        )
    # The common candidate set (the space, maybe subject ids) is ranked with
    # hand-written SQL; anything else through the filter language.
    scope = Scope.of(space.pk, filters, timezone.now()) if queryset is None else None
    if scope is not None:
        qs = scope.queryset_lazily()
    else:
        qs = queryset if queryset is not None else memories_in(space=space)
        qs = qs.filter(compile_filters(filters, keyword_tokens=_keyword_tokens(space)))
    if mode != "keyword":  # only the canonical store has the blind index
        adapter = routing_adapter()
        routed = adapter.search(
            actor=actor,
            space=space,
            query=query,
            top_k=top_k,
            filters=filters,
            queryset=qs,
            surface=surface,
        )
        if routing_info is not None:
            routing_info.update(routed[1] if routed else adapter.local_search_info())
        if routed is not None:
            return routed[0]
    elif routing_info is not None:
        routing_info.update(routing_adapter().local_search_info())
    # The keyword tokens first: an embedding started earlier runs meanwhile.
    tokens, rare = (
        keyword_terms(keyring.index_key(space), query)
        if mode != "vector"
        else ([], frozenset())
    )
    began = time.perf_counter()
    if mode == "keyword":
        embedding = None
    elif pending_embedding is not None:
        embedding = pending_embedding.result()[0]
    else:
        embedding = embed_texts([query])[0]
    embedded = time.perf_counter()
    hits = search_memories(
        queryset=qs if scope is None else None,
        scope=scope,
        query_embedding=embedding,
        query_tokens=tokens,
        rare_tokens=rare,
        top_k=top_k,
        threshold=threshold,
        mode=mode,
        ef_search=ef_search,
    )
    indexed = time.perf_counter()
    results = []
    for memory, score in hits:
        memory.score = score
        results.append(memory)
    memories_decrypt(results, space)
    access_record(
        actor=actor,
        action="memory.search",
        surface=surface,
        space=space,
        memory_ids=[m.pk for m in results],
        detail={"mode": mode, "top_k": top_k}
        | ({"ef_search": ef_search} if ef_search is not None else {}),
    )
    SEARCH_PHASE.labels("embedding").observe(embedded - began)
    SEARCH_PHASE.labels("index").observe(indexed - embedded)
    SEARCH_PHASE.labels("rest").observe(time.perf_counter() - indexed)
    return results


def memory_history(
    *, actor: Actor, space: Space, memory_id, surface: str = "api"
) -> list[dict]:
    """A memory's history events, oldest first, contents decrypted."""
    require_perm(actor, space, permissions.VIEW)
    if not Memory.objects.filter(space=space, pk=memory_id).exists():
        raise NotFound(f"memory {memory_id} not found in space {space.slug!r}")
    events = []
    for event in MemoryEvent.objects.filter(memory_id=memory_id).order_by("at"):
        old, new = event_contents(event, space)
        events.append(
            {
                "id": event.id,
                "memory_id": event.memory_id,
                "event": event.event,
                "old_content": old,
                "new_content": new,
                "actor": event.actor,
                "surface": event.surface,
                "at": event.at,
            }
        )
    access_record(
        actor=actor,
        action="memory.history",
        surface=surface,
        space=space,
        memory_ids=[memory_id],
    )
    return events


def expired_count(*, space: Space) -> int:
    """How many memories of ``space`` are past their expiry (for status pages)."""
    return Memory.objects.filter(space=space).filter(expired_q(timezone.now())).count()


def memory_add_request(
    *, actor: Actor, space: Space, request_id: str, near, window_seconds: int = 600
) -> tuple[list, object] | None:
    """The memory ids and time of an add that passed ``{"request_id": ...}``.

    Found through the audit rows ``memory_add_many(audit_detail=...)`` wrote,
    looked up in a time window around ``near`` (the request's own clock) so
    the query stays on the ``at`` index. ``None`` if no such add happened in
    ``space``.
    """

    require_perm(actor, space, permissions.VIEW)
    window = timedelta(seconds=window_seconds)
    rows = list(
        AccessEvent.objects.filter(
            space_pk=space.pk,
            action="memory.add",
            at__gte=near - timedelta(seconds=60),
            at__lte=near + window,
            detail__request_id=request_id,
        )
        .order_by("at", "id")
        .values_list("memory_ids", "at")
    )
    if not rows:
        return None
    ids = list(dict.fromkeys(i for memory_ids, _at in rows for i in memory_ids))
    return ids, rows[0][1]


def memory_entities(*, actor: Actor, space: Space, surface: str = "api") -> list[dict]:
    """The users, agents, apps and runs that have active memories in ``space``.

    One row per ``(type, name)`` with ``total_memories`` and the first and
    last change; audited as a read of the space (ids and counts only).
    """

    require_perm(actor, space, permissions.VIEW)
    base = memories_in(space=space).order_by()
    entities = []
    for kind in ("user", "agent", "app", "run"):
        field = f"{kind}_id"
        rows = (
            base.exclude(**{field: ""})
            .values(field)
            .annotate(
                total=Count("pk"), first=Min("created_at"), last=Max("updated_at")
            )
            .order_by(field)
        )
        entities.extend(
            {
                "type": kind,
                "name": row[field],
                "total_memories": row["total"],
                "created_at": row["first"],
                "updated_at": row["last"],
            }
            for row in rows
        )
    access_record(
        actor=actor,
        action="memory.entities",
        surface=surface,
        space=space,
        count=len(entities),
    )
    return entities


def memory_authors(*, actor: Actor, space: Space, memory_ids) -> dict:
    """Who added each memory (the actor label of its ADD event), by memory id."""
    require_perm(actor, space, permissions.VIEW)
    ids = list(memory_ids)
    if not ids:
        return {}
    rows = MemoryEvent.objects.filter(
        memory__space=space, memory_id__in=ids, event=MemoryEvent.Kind.ADD
    ).values_list("memory_id", "actor")
    return dict(rows)
