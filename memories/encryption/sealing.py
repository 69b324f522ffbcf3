"""Sealed columns of memory and history rows: build, seal and open them.

Every encrypted field is bound to its row, space and column by its AAD, so a
ciphertext copied to another row or column fails to open. The write services
(:mod:`memories.services`, :mod:`memories.services.erasure`), rotation, export and the
replication outbox all seal and open rows through these helpers.
"""

import uuid
from collections.abc import Sequence

from accounts.actors import Actor
from memories.encryption import keyring
from memories.models import Memory, MemoryEvent, Space
from memories.validation import MemoryInput
from memoryhub.crypto import blind_tokens


def memory_aad(memory_id: uuid.UUID, space: Space) -> bytes:
    """The AAD binding a memory's sealed content to its row and space."""
    return keyring.field_aad(
        kind="memory", row_id=memory_id, space=space, field="content"
    )


def event_aad(event_id: uuid.UUID, space: Space, field: str) -> bytes:
    """The AAD binding a history event's sealed ``old``/``new`` field to its row."""
    return keyring.field_aad(
        kind="memory-event", row_id=event_id, space=space, field=field
    )


def memory_content(memory: Memory, space: Space | None = None) -> str:
    """Decrypt a memory's content (raises DecryptionError if it was tampered with)."""
    space = space or memory.space
    return keyring.open_field(
        space=space, blob=bytes(memory.content), aad=memory_aad(memory.pk, space)
    )


def memories_decrypt(memories: Sequence[Memory], space: Space) -> list[Memory]:
    """Attach ``plaintext`` to each memory (in memory only, never saved)."""
    for memory in memories:
        memory.plaintext = memory_content(memory, space)
    return list(memories)


def memory_build(
    *,
    space: Space,
    item: MemoryInput,
    mac: bytes,
    embedding,
    version: int,
    index_key: bytes,
) -> Memory:
    """An unsaved memory row for ``item``: content sealed, blind index computed."""
    memory_id = uuid.uuid4()
    return Memory(
        id=memory_id,
        space=space,
        content=keyring.seal_field(
            space=space,
            version=version,
            text=item.content,
            aad=memory_aad(memory_id, space),
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


def event_build(
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
    """An unsaved history event; ``old``/``new`` content sealed with key ``version``."""
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
            aad=event_aad(event.id, space, "old"),
        )
    if new is not None:
        event.new_content = keyring.seal_field(
            space=space,
            version=version,
            text=new,
            aad=event_aad(event.id, space, "new"),
        )
    return event


def event_contents(event: MemoryEvent, space: Space) -> tuple[str | None, str | None]:
    """Decrypt a history event's (old, new) content."""
    old = new = None
    if event.old_content is not None:
        old = keyring.open_field(
            space=space,
            blob=bytes(event.old_content),
            aad=event_aad(event.id, space, "old"),
        )
    if event.new_content is not None:
        new = keyring.open_field(
            space=space,
            blob=bytes(event.new_content),
            aad=event_aad(event.id, space, "new"),
        )
    return old, new
