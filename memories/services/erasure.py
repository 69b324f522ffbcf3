"""Deletion, erasure and expiry of memories.

Soft deletion keeps the row (state ``deleted``) and its history; erasure
(``hard``) removes both, leaving only the audit row, whose ids the local
change feed reports as erased. Expired memories are hidden from reads at
once (:func:`expired_q`), archived when an add meets them as duplicates
(:func:`expired_archive`) and erased by :func:`memories_expire_sweep` after a
grace period. Every deletion queues replication through the outbox inside
its transaction, as the other writes in :mod:`memories.services` do.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.actors import SYSTEM, Actor
from audit.services import access_record
from memories import permissions
from memories.adapter import routing_adapter
from memories.encryption import keyring
from memories.encryption.sealing import event_build, memory_content
from memories.filters import compile_filters
from memories.models import Memory, MemoryEvent, MemoryState, Space
from memories.permissions import require_perm
from memories.services.memories import memory_for_update
from memoryhub.crypto import blind_tokens
from memoryhub.errors import InvalidInput


@transaction.atomic
def memory_delete(
    *, actor: Actor, space: Space, memory_id, hard: bool = False, surface: str = "api"
) -> None:
    """Delete a memory: soft (state=deleted, history kept) or hard (erased)."""
    memory = memory_for_update(
        actor=actor, space=space, memory_id=memory_id, perm=permissions.DELETE
    )
    routing_adapter().enqueue(memories=[memory], op="delete")
    if hard:
        memory.delete()
    else:
        old = memory_content(memory, space)
        memory.state = MemoryState.DELETED
        memory.version += 1
        memory.save(update_fields=["state", "version", "updated_at"])
        event_build(
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
    routing_adapter().enqueue_deletes(memory_ids=ids, space_id=space.pk)
    if hard:
        for start in range(0, len(ids), 1000):
            Memory.objects.filter(pk__in=ids[start : start + 1000]).delete()
    else:
        version = keyring.active_version(space)
        events = []
        for memory in Memory.objects.filter(pk__in=ids).select_for_update():
            events.append(
                event_build(
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


def memories_expire_sweep(*, batch: int = 1000) -> int:
    """Erase memories expired more than ``EXPIRED_RETENTION_DAYS`` ago.

    Expired memories are hidden from reads at once (``include_expired`` can
    still show them); after the grace period this sweep erases them, history
    included, one space at a time. Returns how many were erased. The erasures
    reach the local change feed through their ``memory.erase`` audit rows.
    """
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
