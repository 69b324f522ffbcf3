"""Memory and space services: every write goes through here.

Surfaces (REST, mem0-compatible API, MCP, UI, admin, commands, tasks) call
these functions; they check permissions, validate, encrypt, record history
and audit, all in one transaction.
"""

import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.actors import Actor
from memories import keyring, permissions
from memories.audit import access_record
from memories.models import Memory, MemoryEvent, MemoryState, Space
from memories.validation import (
    MemoryInput,
    clean_categories,
    clean_content,
    clean_expires_at,
    clean_memory_input,
    clean_metadata,
)
from memoryhub.crypto import blind_tokens, content_mac
from memoryhub.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from routing import services as routing_services

UNSET = object()
EMBED_CHUNK = 32  # texts per embedding call when embedding overlaps inserts


def require_perm(actor: Actor, space: Space, perm: str) -> frozenset[str]:
    """Raise 404 if ``actor`` cannot see ``space``, 403 if it lacks ``perm``."""
    perms = permissions.space_perms(actor, space)
    if permissions.VIEW not in perms:
        raise NotFound(f"space {space.slug!r} not found")
    if perm not in perms:
        raise Forbidden(f"you may not {perm.replace('_', ' ')} in space {space.slug!r}")
    return perms


def embed_texts(texts: Sequence[str]):
    """Embed texts with the process-wide embedder (loaded once per process).

    Returns float32 unit vectors (a numpy array, one row per text).
    """
    from memories.embedders import get_embedder

    return get_embedder().embed(list(texts))


def embed_chunks(texts: Sequence[str]) -> Iterator[tuple[int, Sequence]]:
    """Yield ``(offset, vectors)`` per ``EMBED_CHUNK`` texts, embedded ahead.

    A worker thread embeds the chunks one after another while the caller
    writes the ones already done: the model (which releases the GIL) and
    PostgreSQL then work on different cores instead of taking turns. One
    chunk is embedded inline, without a thread.
    """
    if len(texts) <= EMBED_CHUNK:
        if texts:
            yield 0, embed_texts(texts)
        return
    offsets = range(0, len(texts), EMBED_CHUNK)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
    try:
        futures = [
            pool.submit(embed_texts, texts[offset : offset + EMBED_CHUNK])
            for offset in offsets
        ]
        for offset, future in zip(offsets, futures, strict=True):
            yield offset, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _memory_aad(memory_id: uuid.UUID, space: Space) -> bytes:
    return keyring.field_aad(
        kind="memory", row_id=memory_id, space=space, field="content"
    )


def _event_aad(event_id: uuid.UUID, space: Space, field: str) -> bytes:
    return keyring.field_aad(
        kind="memory-event", row_id=event_id, space=space, field=field
    )


def memory_content(memory: Memory, space: Space | None = None) -> str:
    """Decrypt a memory's content (raises DecryptionError if it was tampered with)."""
    space = space or memory.space
    return keyring.open_field(
        space=space, blob=bytes(memory.content), aad=_memory_aad(memory.pk, space)
    )


def memories_decrypt(memories: Sequence[Memory], space: Space) -> list[Memory]:
    """Attach ``plaintext`` to each memory (in memory only, never saved)."""
    for memory in memories:
        memory.plaintext = memory_content(memory, space)
    return list(memories)


def _event(
    *,
    memory: Memory,
    space: Space,
    kind: str,
    old: str | None,
    new: str | None,
    actor: Actor,
    surface: str,
    version: int,
) -> MemoryEvent:
    event = MemoryEvent(
        id=uuid.uuid4(),
        memory=memory,
        event=kind,
        actor=actor.label,
        surface=surface,
        key_version=version,
    )
    if old is not None:
        event.old_content = keyring.seal_field(
            space=space,
            version=version,
            text=old,
            aad=_event_aad(event.id, space, "old"),
        )
    if new is not None:
        event.new_content = keyring.seal_field(
            space=space,
            version=version,
            text=new,
            aad=_event_aad(event.id, space, "new"),
        )
    return event


def event_contents(event: MemoryEvent, space: Space) -> tuple[str | None, str | None]:
    """Decrypt a history event's (old, new) content."""
    old = new = None
    if event.old_content is not None:
        old = keyring.open_field(
            space=space,
            blob=bytes(event.old_content),
            aad=_event_aad(event.id, space, "old"),
        )
    if event.new_content is not None:
        new = keyring.open_field(
            space=space,
            blob=bytes(event.new_content),
            aad=_event_aad(event.id, space, "new"),
        )
    return old, new


# --- memories -------------------------------------------------------------------


def _new_memory(
    *,
    space: Space,
    item: MemoryInput,
    mac: bytes,
    embedding,
    version: int,
    index_key: bytes,
) -> Memory:
    memory_id = uuid.uuid4()
    return Memory(
        id=memory_id,
        space=space,
        content=keyring.seal_field(
            space=space,
            version=version,
            text=item.content,
            aad=_memory_aad(memory_id, space),
        ),
        content_mac=mac,
        keyword_index=" ".join(blind_tokens(index_key, item.content)) or None,
        embedding=embedding,
        user_id=item.user_id,
        agent_id=item.agent_id,
        app_id=item.app_id,
        run_id=item.run_id,
        metadata=item.metadata,
        categories=item.categories,
        expires_at=item.expires_at,
        immutable=item.immutable,
        key_version=version,
    )


def _live_duplicates(space: Space, macs: list[bytes]) -> dict[tuple, Memory]:
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
        found[
            (
                bytes(memory.content_mac),
                memory.user_id,
                memory.agent_id,
                memory.app_id,
                memory.run_id,
            )
        ] = memory
    if expired:
        # An expired memory no longer counts as a duplicate; archive it so the
        # unique "one active copy" index admits the fresh one.
        Memory.objects.filter(pk__in=expired).update(state=MemoryState.ARCHIVED)
    return found


def _dedupe_key(mac: bytes, item: MemoryInput) -> tuple:
    return (mac, item.user_id, item.agent_id, item.app_id, item.run_id)


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
    from django.conf import settings

    if count > settings.MEMORY_MAX_BATCH:
        raise TooLarge(
            f"a batch holds at most {settings.MEMORY_MAX_BATCH} memories; "
            f"got {count}; split it (MEMORYHUB_MAX_BATCH)"
        )


def memory_add_many(
    *,
    actor: Actor,
    space: Space,
    items: Sequence[dict],
    surface: str = "api",
    embeddings: Sequence | None = None,
    audit_detail: dict | None = None,
) -> list[dict]:
    """Add up to ``MEMORY_MAX_BATCH`` memories; one result per item, in order.

    Results are ``{"status": "created"|"duplicate", "memory": Memory}`` or
    ``{"status": "error", "error": str, "field": str|None}``; invalid items do
    not stop valid ones. Embeddings are computed in one batch. ``audit_detail``
    (ids and flags, never content) is merged into the audit row, so a caller
    can find its request again (the mem0 API's add events use it).
    """
    require_perm(actor, space, permissions.ADD)
    batch_size_check(len(items))
    results: list[dict] = [{} for _ in items]
    valid: list[tuple[int, MemoryInput]] = []
    for index, raw in enumerate(items):
        try:
            valid.append(
                (index, clean_memory_input(raw, retention_days=space.retention_days))
            )
        except InvalidInput as exc:
            results[index] = {
                "status": "error",
                "error": exc.message,
                "field": exc.field,
            }
        except Exception as exc:  # TooLarge and friends are DomainErrors too
            from memoryhub.errors import DomainError

            if not isinstance(exc, DomainError):
                raise
            results[index] = {
                "status": "error",
                "error": exc.message,
                "field": exc.field,
            }
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
            results[index] = {
                "status": "created" if created else "duplicate",
                "memory": memory,
            }
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
    existing = _live_duplicates(space, macs)
    out: list[tuple[Memory, bool] | None] = [None] * len(items)
    firsts: list[tuple[int, MemoryInput, bytes, object]] = []  # rows to insert
    repeats: list[tuple[int, int]] = []  # (position, index in firsts): same content
    pending: dict[tuple, int] = {}
    for position, (item, mac, vector) in enumerate(
        zip(items, macs, embeddings, strict=True)
    ):
        key = _dedupe_key(mac, item)
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
                    _new_memory(
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
                Memory.objects.bulk_create(chunk)
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
        MemoryEvent.objects.bulk_create(
            [
                _event(
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
        routing_services.outbox_enqueue_many(memories=to_insert, op="add")
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
                aad=_memory_aad(memory.pk, space),
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
    routing_services.outbox_enqueue_for(memory=memory, op="update")
    version = keyring.active_version(space)
    _event(
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


@transaction.atomic
def memory_delete(
    *, actor: Actor, space: Space, memory_id, hard: bool = False, surface: str = "api"
) -> None:
    """Delete a memory: soft (state=deleted, history kept) or hard (erased)."""
    memory = memory_for_update(
        actor=actor, space=space, memory_id=memory_id, perm=permissions.DELETE
    )
    routing_services.outbox_enqueue_for(memory=memory, op="delete")
    if hard:
        memory.delete()
    else:
        old = memory_content(memory, space)
        memory.state = MemoryState.DELETED
        memory.version += 1
        memory.save(update_fields=["state", "version", "updated_at"])
        _event(
            memory=memory,
            space=space,
            kind=MemoryEvent.Kind.DELETE,
            old=old,
            new=None,
            actor=actor,
            surface=surface,
            version=keyring.active_version(space),
        ).save()
    access_record(
        actor=actor,
        action="memory.erase" if hard else "memory.delete",
        surface=surface,
        space=space,
        memory_ids=[memory_id],
    )


@transaction.atomic
def memory_delete_where(
    *, actor: Actor, space: Space, queryset, hard: bool = False, surface: str = "api"
) -> int:
    """Delete every memory of ``queryset`` (already scoped to ``space``)."""
    require_perm(actor, space, permissions.DELETE)
    ids = list(queryset.filter(space=space).values_list("pk", flat=True))
    if not ids:
        return 0
    routing_services.outbox_enqueue_deletes(memory_ids=ids, space_id=space.pk)
    if hard:
        for start in range(0, len(ids), 1000):
            Memory.objects.filter(pk__in=ids[start : start + 1000]).delete()
    else:
        version = keyring.active_version(space)
        events = []
        for memory in Memory.objects.filter(pk__in=ids).select_for_update():
            events.append(
                _event(
                    memory=memory,
                    space=space,
                    kind=MemoryEvent.Kind.DELETE,
                    old=memory_content(memory, space),
                    new=None,
                    actor=actor,
                    surface=surface,
                    version=version,
                )
            )
        MemoryEvent.objects.bulk_create(events, batch_size=1000)
        Memory.objects.filter(pk__in=ids).update(
            state=MemoryState.DELETED,
            version=F("version") + 1,  # as memory_delete does
            updated_at=timezone.now(),
        )
    access_record(
        actor=actor,
        action="memory.erase" if hard else "memory.delete",
        surface=surface,
        space=space,
        memory_ids=ids,
    )
    return len(ids)


def memory_delete_by_filter(
    *,
    actor: Actor,
    space: Space,
    filters: dict,
    hard: bool = False,
    surface: str = "api",
) -> int:
    """Delete the memories of ``space`` matching ``filters`` (at least one condition).

    Soft deletion covers active and archived memories; ``hard`` erases every
    match whatever its state, soft-deleted ones and their history included.
    """
    from memories.filters import compile_filters

    require_perm(actor, space, permissions.DELETE)
    if not isinstance(filters, dict) or not filters:
        raise InvalidInput(
            "filters must name at least one condition, e.g. "
            '{"user_id": "alice"}; deleting a whole space is DELETE on the space',
            field="filters",
        )
    queryset = Memory.objects.filter(space=space)
    if not hard:
        queryset = queryset.exclude(state=MemoryState.DELETED)
    queryset = queryset.filter(
        compile_filters(
            filters,
            keyword_tokens=lambda text: blind_tokens(keyring.index_key(space), text),
        )
    )
    return memory_delete_where(
        actor=actor, space=space, queryset=queryset, hard=hard, surface=surface
    )


def memory_erase_user(
    *, actor: Actor, space: Space, user_id: str, surface: str = "api"
) -> int:
    """Erase (hard delete, history included) everything stored for ``user_id``."""
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput(
            "user_id is required to erase a user's memories", field="user_id"
        )
    return memory_delete_where(
        actor=actor,
        space=space,
        queryset=Memory.objects.filter(user_id=user_id),
        hard=True,
        surface=surface,
    )


def expired_q(now: datetime | None = None) -> Q:
    """Memories whose expiry has passed."""
    return Q(expires_at__isnull=False, expires_at__lte=now or timezone.now())


def memories_expire_sweep(*, batch: int = 1000) -> int:
    """Erase memories expired more than ``EXPIRED_RETENTION_DAYS`` ago.

    Expired memories are hidden from reads at once (``include_expired`` can
    still show them); after the grace period this sweep erases them, history
    included, one space at a time. Returns how many were erased.
    """
    from datetime import timedelta

    from django.conf import settings

    from accounts.actors import SYSTEM

    cutoff = timezone.now() - timedelta(days=settings.EXPIRED_RETENTION_DAYS)
    rows = list(
        Memory.objects.filter(
            expires_at__lte=cutoff, space__shredded_at__isnull=True
        ).values_list("space_id", "pk")[:batch]
    )
    by_space: dict[int, list] = {}
    for space_id, memory_id in rows:
        by_space.setdefault(space_id, []).append(memory_id)
    erased = 0
    for space in Space.objects.filter(pk__in=by_space):
        erased += memory_delete_where(
            actor=SYSTEM,
            space=space,
            queryset=Memory.objects.filter(pk__in=by_space[space.pk]),
            hard=True,
            surface="task",
        )
    return erased
