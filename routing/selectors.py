"""Routing reads: explain a described operation, routed search, team views.

:func:`route_explain` answers "which rule matches this operation, which
backends would serve it and why" without calling any backend.
:func:`route_search` runs the matching rule's read strategy, maps the hits
back to MemoryHub memories (through ``ExternalRef``, or the ids themselves
for the local store), keeps only live memories of the space within the
requested scope, and decrypts them from the canonical store — so a backend
can rank, but never decide what a caller may see.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Count, Min, Q, QuerySet

from accounts.actors import Actor
from audit.services import access_record
from memories import permissions
from memories.encryption.sealing import memories_decrypt
from memories.models import Memory, Space
from memories.permissions import require_perm
from memories.selectors import memory_search
from memoryhub.errors import InvalidInput, NotFound, Unavailable
from routing import rules
from routing.backends.base import BackendError, SearchScope
from routing.backends.changes import MAX_LIMIT, InvalidCursor
from routing.breaker import breaker_for
from routing.calls import backend_call
from routing.models import Backend, ExternalRef, OutboxEntry, OutboxState
from routing.services import require_operator
from routing.strategies import STRATEGIES, rrf_merge

LOCAL_BACKEND = Backend(
    pk=0,
    name=rules.LOCAL,
    kind="local",
    allows_plaintext=True,
    timeout_seconds=30.0,
    max_retries=0,
    updated_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
)


def _backends(names: list[str], snap: rules.Snapshot) -> list[Backend]:
    found = []
    for name in names:
        if name == rules.LOCAL:
            found.append(LOCAL_BACKEND)
        elif name in snap.backends:
            found.append(snap.backends[name])
    return found


def _plan_rule(op: rules.Operation):
    snap = rules.snapshot()
    compiled, skipped = rules.rule_for(op)
    if compiled is None:
        return None, skipped, STRATEGIES["local"], [LOCAL_BACKEND], [], snap
    rule = compiled.rule
    strategy = STRATEGIES[rule.read_strategy]
    reads = (
        [LOCAL_BACKEND]
        if strategy.name == "local"
        else _backends(rule.read_backends, snap)
    )
    writes = _backends(rule.write_backends, snap)
    return compiled, skipped, strategy, reads, writes, snap


def route_explain(*, op: rules.Operation) -> dict:
    """Which rule matches ``op``, which backends it uses and why (no calls made)."""
    if op.op not in rules.OPERATIONS:
        raise InvalidInput(
            f"operation must be one of {', '.join(rules.OPERATIONS)}", field="operation"
        )
    compiled, skipped, strategy, reads, writes, _ = _plan_rule(op)
    result = {
        "operation": op.op,
        "rule": None,
        "matched_because": [],
        "skipped_rules": [{"rule": n, "reason": r} for n, r in skipped],
        "read_strategy": strategy.name,
        "read_backends": [],
        "write_backends": [
            {"backend": rules.LOCAL, "mode": "canonical", "reason": "always written"}
        ],
    }
    if compiled is not None:
        result["rule"] = compiled.rule.name
        result["matched_because"] = compiled.check(op)[1]
        for backend in writes:
            result["write_backends"].append(
                {
                    "backend": backend.name,
                    "mode": compiled.rule.write_mode,
                    "reason": "write policy"
                    + ("" if backend.enabled else " (disabled: entries wait)"),
                }
            )
    else:
        result["matched_because"] = ["no rule matches: everything is local"]
    if op.op in rules.WRITE_OPERATIONS:
        result["read_backends"] = []
    else:
        result["write_backends"] = []
        for step in strategy.plan(reads):
            breaker = breaker_for(step.backend)
            result["read_backends"].append(
                {
                    "backend": step.backend.name,
                    "usable": step.usable,
                    "reason": step.reason,
                    "circuit": breaker.state,
                    "latency_ewma_ms": breaker.latency_ms,
                }
            )
    return result


def _scope(space: Space, subjects: dict) -> SearchScope:
    return SearchScope(
        space_uuid=str(space.uuid),
        space_pk=space.pk,
        **{k: str(subjects.get(k) or "") for k in rules.SUBJECT_FIELDS},
    )


def filter_subjects(filters) -> dict[str, str]:
    """The subject ids a filter pins by equality (top level or inside ``AND``).

    Rules match searches on these, and backends are asked to search within
    them; every other condition is applied to the canonical rows afterwards.
    """
    found: dict[str, str] = {}
    pending = [filters]
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == "AND" and isinstance(value, list):
                pending.extend(value)
            elif key in rules.SUBJECT_FIELDS:
                if isinstance(value, dict) and set(value) == {"eq"}:
                    value = value["eq"]
                if isinstance(value, str) and value and value != "*":
                    found.setdefault(key, value)
    return found


def search_routed(
    *,
    actor: Actor,
    space: Space,
    query: str,
    top_k: int,
    filters: dict | None,
    queryset: QuerySet[Memory],
    surface: str,
) -> tuple[list[Memory], dict] | None:
    """Run a search through its read rule, or ``None`` when it stays local.

    The hook :func:`memories.selectors.memory_search` calls once its input is
    validated; ``queryset`` is its candidate set (space, state, expiry and the
    whole filter already applied), so a backend ranks but the canonical rows
    decide what is returned. Without rules this costs no query (the rule
    cache re-checks its version at most once per ``rules.CHECK_SECONDS``).
    """
    snap = rules.snapshot()
    if not snap.rules:
        return None
    # memory_search checked this already; a direct caller must not skip it.
    require_perm(actor, space, permissions.VIEW)
    subjects = filter_subjects(filters)
    op = rules.Operation(
        op="search", space=f"{space.team.slug}/{space.slug}", **subjects
    )
    compiled, _, strategy, reads, _, _ = _plan_rule(op)
    if strategy.name == "local":
        return None
    outcome = strategy.search(
        reads,
        query=query,
        scope=_scope(space, subjects),
        top_k=top_k,
        timeout=compiled.rule.read_timeout_seconds,
    )

    fused = rrf_merge([_memory_ids(backend, hits) for backend, hits in outcome.hits])
    by_id = {str(m.pk): m for m in queryset.filter(pk__in=[key for key, _ in fused])}
    results = []
    for memory_id, score in fused:
        memory = by_id.get(memory_id)
        if memory is not None:
            memory.score = score
            results.append(memory)
        if len(results) >= top_k:
            break
    memories_decrypt(results, space)
    used = [t["backend"] for t in outcome.tried if t["status"] == "ok"]
    access_record(
        actor=actor,
        action="memory.search",
        surface=surface,
        space=space,
        memory_ids=[m.pk for m in results],
        backend=",".join(used)[:64] or rules.LOCAL,
        detail={"routed": True, "strategy": strategy.name, "top_k": top_k},
    )
    return results, {
        "rule": compiled.rule.name,
        "strategy": strategy.name,
        "backends": outcome.tried,
    }


def route_search(
    *,
    actor: Actor,
    space: Space,
    query: str,
    top_k: int = 10,
    filters: dict | None = None,
    surface: str = "api",
) -> tuple[list[Memory], dict]:
    """Search ``space`` through the routing rules; returns (memories, routing info).

    The same search :func:`memories.selectors.memory_search` runs (which
    routes too), plus which rule, strategy and backends served it.
    ``filters`` is the memory filter language.
    """

    info: dict = {}
    found = memory_search(
        actor=actor,
        space=space,
        query=query,
        top_k=top_k,
        filters=filters,
        surface=surface,
        routing_info=info,
    )
    return found, info


def _memory_ids(backend: Backend, hits) -> list[str]:
    """MemoryHub ids of a backend's hits, in its order (unknown ones dropped).

    A hit that carries its MemoryHub id (every built-in adapter tags copies
    with it) needs no lookup; the others go through ``ExternalRef``. Either
    way the id is only a candidate: the caller loads it from the canonical
    store within the searcher's own scope, so a wrong id can never show
    anything the caller could not see anyway.
    """
    ids: list[str | None] = [_uuid_text(hit.memory_id) for hit in hits]
    unknown = [h.external_id for h, i in zip(hits, ids, strict=True) if i is None]
    if unknown and backend.kind != "local":
        refs = dict(
            ExternalRef.objects.filter(
                backend=backend, external_id__in=unknown
            ).values_list("external_id", "memory_id")
        )
        ids = [
            i if i is not None else _uuid_text(refs.get(h.external_id))
            for h, i in zip(hits, ids, strict=True)
        ]
    return [i for i in ids if i is not None]


def _uuid_text(value) -> str | None:
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


def backends_serving(*, actor: Actor, space: Space) -> list[dict]:
    """Read-only: the backends the rules route this space's operations to."""

    require_perm(actor, space, permissions.VIEW)
    label = f"{space.team.slug}/{space.slug}"
    seen: dict[str, set[str]] = {}
    for op_name in rules.OPERATIONS:
        explained = route_explain(op=rules.Operation(op=op_name, space=label))
        for item in explained["write_backends"] + explained["read_backends"]:
            seen.setdefault(item["backend"], set()).add(op_name)
    snap = rules.snapshot()
    out = []
    for name, ops in sorted(seen.items()):
        backend = snap.backends.get(name, LOCAL_BACKEND)
        out.append(
            {
                "name": name,
                "kind": backend.kind,
                "enabled": backend.enabled,
                "operations": sorted(ops),
                "circuit": breaker_for(backend).state,
            }
        )
    return out


def backends_all() -> QuerySet[Backend]:
    """Every backend (operators)."""
    return Backend.objects.all()


def backend_by_name(*, name: str) -> Backend:
    """A backend by name, ``local`` being the canonical store (404 otherwise)."""
    if name == rules.LOCAL:
        return LOCAL_BACKEND
    backend = Backend.objects.filter(name=name).first()
    if backend is None:
        raise NotFound(f"backend {name!r} not found")
    return backend


def backend_changes(
    *, actor: Actor, backend: Backend, cursor: str | None = None, limit: int = 100
) -> dict:
    """A page of what changed in ``backend`` after ``cursor`` (operators).

    Ids and content-free details only. A bad limit or a cursor the backend
    did not issue is a 400; a backend that cannot answer is a 503.
    """

    require_operator(actor)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidInput("cursor must be a string", field="cursor")
    try:
        page = backend_call(backend, "changes_since", cursor or None, limit=limit)
    except InvalidCursor as exc:
        raise InvalidInput(str(exc), field="cursor") from None
    except BackendError as exc:
        raise Unavailable(
            f"backend {backend.name!r} could not list its changes "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    return {
        "backend": backend.name,
        "changes": [
            {
                "external_id": change.external_id,
                "op": change.op,
                "memory_id": change.memory_id,
                "detail": change.detail,
            }
            for change in page.changes
        ],
        "cursor": page.cursor,
        "more": page.more,
    }


def space_backlog(*, actor: Actor, space: Space) -> dict[str, dict]:
    """The space's replication backlog per backend name (``view_space``):
    pending and dead-letter entries and the oldest pending one. One query."""
    require_perm(actor, space, permissions.VIEW)
    rows = (
        OutboxEntry.objects.filter(
            space_id=space.pk,
            state__in=(OutboxState.PENDING, OutboxState.DEAD),
        )
        .values("backend__name")
        .annotate(
            pending=Count("id", filter=Q(state=OutboxState.PENDING)),
            dead=Count("id", filter=Q(state=OutboxState.DEAD)),
            oldest=Min("created_at", filter=Q(state=OutboxState.PENDING)),
        )
    )
    return {row["backend__name"]: row for row in rows}
