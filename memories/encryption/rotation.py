"""Data-key rotation: re-encrypt a space's rows in background batches.

``space_data_key_rotate`` makes a new data key active and queues
``memories.tasks.space_reencrypt``. Each task run re-encrypts one batch of
memories and history events still sealed with an older key (rows locked with
SKIP LOCKED so concurrent writers are never blocked) and re-queues itself;
reads keep working throughout because the header of every ciphertext names
the key that sealed it. When no row uses a retired key any more, the retired
keys are destroyed.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from accounts.actors import Actor
from audit.services import access_record
from memories import permissions
from memories.encryption import keyring
from memories.encryption.sealing import event_aad, memory_aad
from memories.models import Memory, MemoryEvent, Space, SpaceKey
from memories.permissions import require_perm


def space_data_key_rotate(
    *, actor: Actor, space: Space, surface: str = "cli"
) -> SpaceKey:
    """Activate a new data key for ``space`` and start background re-encryption."""
    require_perm(actor, space, permissions.MANAGE)
    with transaction.atomic():
        new_key = keyring.data_key_rotate(space=space)
        access_record(
            actor=actor,
            action="space.rotate_data_key",
            surface=surface,
            space=space,
            detail={"version": new_key.version},
        )
        space_pk = space.pk

        def _enqueue() -> None:
            # Tasks import this module (the accepted task <-> service pair).
            from memories.tasks import space_reencrypt

            space_reencrypt.delay(space_pk)

        transaction.on_commit(_enqueue)
    return new_key


@transaction.atomic
def space_reencrypt_batch(*, space_pk: int, batch: int | None = None) -> int:
    """Re-encrypt up to ``batch`` rows of a space; returns how many were done.

    Returns 0 when the space is fully on its active key (retired keys are then
    destroyed) or no longer exists.
    """
    batch = batch or settings.REENCRYPT_BATCH_SIZE
    space = Space.objects.filter(pk=space_pk, shredded_at__isnull=True).first()
    if space is None:
        return 0
    active = keyring.active_version(space)
    done = 0
    memories = list(
        Memory.objects.select_for_update(skip_locked=True)
        .filter(space=space)
        .exclude(key_version=active)
        .only("id", "content", "key_version")[:batch]
    )
    for memory in memories:
        aad = memory_aad(memory.pk, space)
        text = keyring.open_field(space=space, blob=bytes(memory.content), aad=aad)
        memory.content = keyring.seal_field(
            space=space, version=active, text=text, aad=aad
        )
        memory.key_version = active
    Memory.objects.bulk_update(memories, ["content", "key_version"])
    done += len(memories)
    events = list(
        MemoryEvent.objects.select_for_update(skip_locked=True)
        .filter(memory__space=space)
        .exclude(key_version=active)[: batch - done or 1]
    )
    for event in events:
        for field, attr in (("old", "old_content"), ("new", "new_content")):
            blob = getattr(event, attr)
            if blob is None:
                continue
            aad = event_aad(event.id, space, field)
            text = keyring.open_field(space=space, blob=bytes(blob), aad=aad)
            setattr(
                event,
                attr,
                keyring.seal_field(space=space, version=active, text=text, aad=aad),
            )
        event.key_version = active
    MemoryEvent.objects.bulk_update(
        events, ["old_content", "new_content", "key_version"]
    )
    done += len(events)
    if done == 0:
        remaining = Memory.objects.filter(space=space).exclude(
            key_version=active
        ).exists() or (
            MemoryEvent.objects.filter(memory__space=space)
            .exclude(key_version=active)
            .exists()
        )
        if not remaining:
            retired = SpaceKey.objects.filter(space=space).filter(~Q(version=active))
            if retired.exists():
                retired.delete()
                transaction.on_commit(lambda: keyring.forget_space(space.pk))
    return done
