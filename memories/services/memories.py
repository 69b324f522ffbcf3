"""Memory services: adds (one or many), updates, and retiring expired duplicates.

Surfaces (REST, mem0-compatible API, MCP, UI, admin, commands, tasks) call
these functions; they check permissions, validate, encrypt, record history
and audit, all in one transaction. Deletion and erasure live in
:mod:`memories.services.erasure`; sealing and opening rows in
:mod:`memories.encryption.sealing`.
"""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.actors import SYSTEM, Actor
from audit.services import access_record
from memories import permissions
from memories.adapter import routing_adapter
from memories.embedding import embed_chunks, embed_texts
from memories.encryption import keyring
from memories.encryption.sealing import (
    event_build,
    memory_aad,
    memory_build,
    memory_content,
)
from memories.models import Memory, MemoryEvent, MemoryState, Space
from memories.permissions import require_perm
from memories.validation import (
    MemoryInput,
    clean_categories,
    clean_content,
    clean_expires_at,
    clean_memory_input,
    clean_metadata,
)
from memoryhub.crypto import blind_tokens, content_mac
from memoryhub.db import copy_insert
from memoryhub.errors import Conflict, DomainError, InvalidInput, NotFound, TooLarge

UNSET = object()


# --- memories -------------------------------------------------------------------


def _live_duplicates(
    space: Space, macs: list[bytes], *, surface: str
) -> dict[tuple, Memory]:
    """Active memories in ``space`` with any of ``macs``; expired ones are retired."""
    found: dict[tuple, Memory] = {}
    now = timezone.now()
    expired: list[uuid.UUID] = []
    for memory in Memory.objects.filter(
        space=space, state=MemoryState.ACTIVE, content_mac__in=macs
    ):
        if memory.expires_at is not None and memory.expires_at <= now:
            expired.append(memory.pk)
            continue
        found[dedupe_key(memory.content_mac, memory)] = memory
    if expired:
        expired_archive(space=space, memory_ids=expired, surface=surface)
    return found


def dedupe_key(mac: bytes, scoped: MemoryInput | Memory) -> tuple:
    """What makes two memories duplicates: content MAC and the four scope ids."""
    return (bytes(mac), scoped.user_id, scoped.agent_id, scoped.app_id, scoped.run_id)


def memory_add(
    *, actor: Actor, space: Space, data: dict, surface: str = "api", embedding=None
) -> tuple[Memory, bool]:
    """Add one memory; returns (memory, created). An identical active memory in
    the same scope is returned instead of a duplicate (created=False)."""
    require_perm(actor, space, permissions.ADD)
    item = clean_memory_input(data, retention_days=space.retention_days)
    results = _add_cleaned(
        actor=actor, space=space, items=[item], embeddings=[embedding], surface=surface
    )
    memory, created = results[0]
    return memory, created


def batch_size_check(count: int) -> None:
    """Raise ``TooLarge`` if ``count`` items exceed ``MEMORY_MAX_BATCH``."""

    if count > settings.MEMORY_MAX_BATCH:
        raise TooLarge(
            f"a batch holds at most {settings.MEMORY_MAX_BATCH} memories; "
            f"got {count}; split it (MEMORYHUB_MAX_BATCH)"
        )


@dataclass(frozen=True)
class AddResult:
    """One item's outcome of an add: ``created``, ``duplicate`` or ``error``.

    Every batch path reads it: the REST batch, imports, the mem0 API's adds
    and the knowledge graph. ``memory`` is set unless ``status`` is
    ``error``; then ``error`` (never content) and maybe ``field`` say why.
    """

    status: str
    memory: Memory | None = None
    error: str | None = None
    field: str | None = None

    @classmethod
    def failed(cls, exc: DomainError) -> "AddResult":
        """The result of an item a service or a serializer rejected."""
        return cls("error", error=exc.message, field=exc.field)

    @property
    def ok(self) -> bool:
        """Stored or found: ``created`` or ``duplicate``."""
        return self.status != "error"

    def as_item(self, **position) -> dict:
        """The JSON item of the REST API: ``position`` (``index``/``line``) first,
        then ``status`` and ``id`` or ``error`` (and ``field`` when known)."""
        item = {**position, "status": self.status}
        if self.memory is not None:
            item["id"] = self.memory.pk
        else:
            item["error"] = self.error
            if self.field:
                item["field"] = self.field
        return item


def memory_add_many(
    *,
    actor: Actor,
    space: Space,
    items: Sequence[dict],
    surface: str = "api",
    embeddings: Sequence | None = None,
    audit_detail: dict | None = None,
) -> list[AddResult]:
    """Add up to ``MEMORY_MAX_BATCH`` memories; one :class:`AddResult` per item.

    Results come in the items' order; invalid items do not stop valid ones.
    Embeddings are computed in one batch. ``audit_detail`` (ids and flags,
    never content) is merged into the audit row, so a caller can find its
    request again (the mem0 API's add events use it).
    """
    require_perm(actor, space, permissions.ADD)
    batch_size_check(len(items))
    results: list[AddResult | None] = [None] * len(items)
    valid: list[tuple[int, MemoryInput]] = []
    for index, raw in enumerate(items):
        try:
            valid.append(
                (index, clean_memory_input(raw, retention_days=space.retention_days))
            )
        except DomainError as exc:  # InvalidInput, TooLarge
            results[index] = AddResult.failed(exc)
    if valid:
        vectors = (
            [None] * len(valid)
            if embeddings is None
            else [embeddings[index] for index, _ in valid]
        )
        added = _add_cleaned(
            actor=actor,
            space=space,
            items=[item for _, item in valid],
            embeddings=vectors,
            surface=surface,
            audit_detail=audit_detail,
        )
        for (index, _), (memory, created) in zip(valid, added, strict=True):
            results[index] = AddResult(
                "created" if created else "duplicate", memory=memory
            )
    return results


@transaction.atomic
def _add_cleaned(
    *,
    actor: Actor,
    space: Space,
    items: list[MemoryInput],
    embeddings: Sequence,
    surface: str,
    audit_detail: dict | None = None,
) -> list[tuple[Memory, bool]]:
    """Insert the items that are not duplicates; ``(memory, created)`` per item.

    ``embeddings`` has one entry per item; ``None`` entries are embedded here,
    and only for rows that are really new (a duplicate costs no embedding),
    in chunks written as soon as they are ready (:func:`embed_chunks`).
    """
    index_key = keyring.index_key(space)
    version = keyring.active_version(space)
    macs = [content_mac(index_key, item.content) for item in items]
    existing = _live_duplicates(space, macs, surface=surface)
    out: list[tuple[Memory, bool] | None] = [None] * len(items)
    firsts: list[tuple[int, MemoryInput, bytes, object]] = []  # rows to insert
    repeats: list[tuple[int, int]] = []  # (position, index in firsts): same content
    pending: dict[tuple, int] = {}
    for position, (item, mac, vector) in enumerate(
        zip(items, macs, embeddings, strict=True)
    ):
        key = dedupe_key(mac, item)
        if key in existing:
            out[position] = (existing[key], False)
        elif key in pending:
            repeats.append((position, pending[key]))
        else:
            pending[key] = len(firsts)
            firsts.append((position, item, mac, vector))
    to_insert: list[Memory] = []
    try:
        with transaction.atomic(), closing(_vectors_for(firsts)) as chunks:
            for offset, vectors in chunks:
                chunk = [
                    memory_build(
                        space=space,
                        item=item,
                        mac=mac,
                        embedding=vector,
                        version=version,
                        index_key=index_key,
                    )
                    for (_, item, mac, _), vector in zip(
                        firsts[offset : offset + len(vectors)], vectors, strict=True
                    )
                ]
                copy_insert(chunk)
                to_insert.extend(chunk)
    except IntegrityError:
        # A concurrent add of the same content won the race: fall back to
        # one-by-one inserts, mapping losers to the winner's row.
        return _add_one_by_one(
            actor=actor,
            space=space,
            items=items,
            embeddings=embeddings,
            surface=surface,
            audit_detail=audit_detail,
        )
    for (position, *_), memory in zip(firsts, to_insert, strict=True):
        out[position] = (memory, True)
    for position, first in repeats:
        out[position] = (to_insert[first], False)
    if to_insert:
        copy_insert(
            [
                event_build(
                    memory=memory,
                    space=space,
                    kind=MemoryEvent.Kind.ADD,
                    old=None,
                    new=item.content,
                    actor=actor,
                    surface=surface,
                    version=version,
                )
                for memory, (_, item, _, _) in zip(to_insert, firsts, strict=True)
            ]
        )
        routing_adapter().enqueue(memories=to_insert, op="add")
    access_record(
        actor=actor,
        action="memory.add",
        surface=surface,
        space=space,
        memory_ids=[m.pk for m, _ in out],
        detail={
            **(audit_detail or {}),
            "created": len(to_insert),
            "duplicates": len(out) - len(to_insert),
        },
    )
    return out


def _vectors_for(rows: list[tuple]) -> Iterator[tuple[int, Sequence]]:
    """``(offset, vectors)`` chunks for ``rows`` (``(..., vector)`` tuples).

    Given vectors are used as they are; when none is given the texts are
    embedded by :func:`embed_chunks`, overlapping with the caller's inserts.
    """
    missing = [i for i, row in enumerate(rows) if row[3] is None]
    if not missing:
        if rows:
            yield 0, [row[3] for row in rows]
        return
    texts = [rows[i][1].content for i in missing]
    if len(missing) == len(rows):
        yield from embed_chunks(texts)
        return
    vectors = [row[3] for row in rows]
    for i, vector in zip(missing, embed_texts(texts), strict=True):
        vectors[i] = vector
    yield 0, vectors


def _add_one_by_one(
    *,
    actor: Actor,
    space: Space,
    items,
    embeddings,
    surface: str,
    audit_detail: dict | None = None,
):
    results = []
    for item, vector in zip(items, embeddings, strict=True):
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    results.extend(
                        _add_cleaned(
                            actor=actor,
                            space=space,
                            items=[item],
                            embeddings=[vector],
                            surface=surface,
                            audit_detail=audit_detail,
                        )
                    )
                break
            except IntegrityError:
                continue
        else:
            raise Conflict(
                "could not add the memory because of concurrent identical writes; retry"
            )
    return results


def memory_for_update(*, actor: Actor, space: Space, memory_id, perm: str) -> Memory:
    """Lock and return a memory the actor may ``perm`` (404 if invisible)."""
    require_perm(actor, space, perm)
    memory = (
        Memory.objects.select_for_update()
        .filter(space=space, pk=memory_id)
        .exclude(state=MemoryState.DELETED)
        .first()
    )
    if memory is None:
        raise NotFound(f"memory {memory_id} not found in space {space.slug!r}")
    return memory


@transaction.atomic
def memory_update(
    *,
    actor: Actor,
    space: Space,
    memory_id,
    content=UNSET,
    metadata=UNSET,
    categories=UNSET,
    expires_at=UNSET,
    state=UNSET,
    immutable=UNSET,
    expected_version: int | None = None,
    surface: str = "api",
) -> Memory:
    """Change a memory; content changes are re-embedded and recorded in history."""
    memory = memory_for_update(
        actor=actor, space=space, memory_id=memory_id, perm=permissions.CHANGE
    )
    if memory.immutable:
        raise Conflict(
            f"memory {memory.pk} is immutable and cannot be updated; "
            "add a new memory instead"
        )
    if expected_version is not None and expected_version != memory.version:
        raise Conflict(
            f"memory {memory.pk} is at version {memory.version}, not "
            f"{expected_version}; reload it and retry"
        )
    changed = []
    old_content = None
    new_content = None
    if content is not UNSET:
        new_content = clean_content(content)
        old_content = memory_content(memory, space)
        if new_content != old_content:
            index_key = keyring.index_key(space)
            version = keyring.active_version(space)
            memory.content = keyring.seal_field(
                space=space,
                version=version,
                text=new_content,
                aad=memory_aad(memory.pk, space),
            )
            memory.key_version = version
            memory.content_mac = content_mac(index_key, new_content)
            memory.keyword_index = (
                " ".join(blind_tokens(index_key, new_content)) or None
            )
            memory.embedding = embed_texts([new_content])[0]
            changed += [
                "content",
                "key_version",
                "content_mac",
                "keyword_index",
                "embedding",
            ]
        else:
            old_content = new_content = None
    if metadata is not UNSET:
        memory.metadata = clean_metadata(metadata)
        changed.append("metadata")
    if categories is not UNSET:
        memory.categories = clean_categories(categories)
        changed.append("categories")
    if expires_at is not UNSET:
        memory.expires_at = clean_expires_at(expires_at)
        changed.append("expires_at")
    if immutable is not UNSET:
        if not isinstance(immutable, bool):
            raise InvalidInput("immutable must be true or false", field="immutable")
        memory.immutable = immutable
        changed.append("immutable")
    if state is not UNSET:
        if state not in (MemoryState.ACTIVE, MemoryState.ARCHIVED):
            raise InvalidInput(
                "state must be 'active' or 'archived' (delete to remove)", field="state"
            )
        memory.state = state
        changed.append("state")
    if not changed:
        return memory
    memory.version += 1
    changed += ["version", "updated_at"]
    try:
        with transaction.atomic():
            memory.save(update_fields=changed)
    except IntegrityError:
        raise Conflict(
            "an identical active memory already exists in this scope"
        ) from None
    routing_adapter().enqueue(memories=[memory], op="update")
    version = keyring.active_version(space)
    event_build(
        memory=memory,
        space=space,
        kind=MemoryEvent.Kind.UPDATE,
        old=old_content if old_content is not None else None,
        new=new_content,
        actor=actor,
        surface=surface,
        version=version,
    ).save()
    access_record(
        actor=actor,
        action="memory.update",
        surface=surface,
        space=space,
        memory_ids=[memory.pk],
        detail={"fields": sorted(set(changed) - {"updated_at"})},
    )
    return memory


def expired_archive(*, space: Space, memory_ids: list, surface: str) -> None:
    """Archive expired memories the way ``memory_update(state="archived")`` does.

    Adds call it for expired duplicates: an expired memory no longer counts as
    one, and archiving it lets the unique "one active copy" index admit the
    fresh one. Like any state change it moves ``version`` and ``updated_at``
    (so the local change feed reports it), records history and audit, and
    queues replication (replicas drop archived copies). The expiry did it, so
    the actor is the system; ``surface`` is the add's.
    """
    memories = list(
        Memory.objects.select_for_update()
        .filter(pk__in=memory_ids, state=MemoryState.ACTIVE)
        .defer("embedding", "keyword_index")
    )
    if not memories:
        return  # a concurrent add archived them first
    now = timezone.now()
    Memory.objects.filter(pk__in=[m.pk for m in memories]).update(
        state=MemoryState.ARCHIVED, version=F("version") + 1, updated_at=now
    )
    for memory in memories:
        memory.space = space
        memory.state = MemoryState.ARCHIVED
        memory.version += 1
        memory.updated_at = now
    version = keyring.active_version(space)
    MemoryEvent.objects.bulk_create(
        event_build(
            memory=memory,
            space=space,
            kind=MemoryEvent.Kind.UPDATE,
            old=None,
            new=None,
            actor=SYSTEM,
            surface=surface,
            version=version,
        )
        for memory in memories
    )
    routing_adapter().enqueue(memories=memories, op="update")
    access_record(
        actor=SYSTEM,
        action="memory.update",
        surface=surface,
        space=space,
        memory_ids=[m.pk for m in memories],
        detail={"fields": ["state", "version"], "expired": True},
    )
