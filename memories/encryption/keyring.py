"""Per-space data keys: creation, caching, sealing/opening memory fields, rotation.

Each space has an *index key* (keyed HMACs: dedupe and blind index; stable
across data-key rotation) and versioned *data keys* (AES-GCM for content).
All are stored wrapped by the primary master key. Unwrapped keys are cached
per process: data keys never change once created, and shredding clears them.
"""

import threading
import uuid

from django.db import connection, transaction

from memories.models import Space, SpaceKey
from memoryhub.crypto import (
    DecryptionError,
    new_data_key,
    open_sealed,
    peek_key_id,
    seal,
    unwrap_key,
    wrap_key,
)
from memoryhub.crypto.keys import master_keyring
from memoryhub.errors import Conflict

_lock = threading.Lock()
_data_keys: dict[tuple[int, int], bytes] = {}
_index_keys: dict[int, bytes] = {}


def _dek_aad(space: Space, version: int) -> bytes:
    return f"space-key:{space.uuid}:{version}".encode()


def _index_aad(space: Space) -> bytes:
    return f"space-index-key:{space.uuid}".encode()


def field_aad(*, kind: str, row_id: uuid.UUID, space: Space, field: str) -> bytes:
    """Associated data binding a ciphertext to its row and field."""
    return f"{kind}:{row_id}:{space.uuid}:{field}".encode()


def space_keys_init(*, space: Space) -> None:
    """Give a new space its index key and first data key (inside its transaction)."""
    space.index_key_wrapped = wrap_key(new_data_key(), _index_aad(space))
    space.save(update_fields=["index_key_wrapped"])
    SpaceKey.objects.create(
        space=space,
        version=1,
        wrapped_key=wrap_key(new_data_key(), _dek_aad(space, 1)),
        master_key_id=master_keyring().primary_id,
    )


def _require_live(space: Space) -> None:
    if space.shredded_at is not None or space.index_key_wrapped is None:
        raise Conflict(f"space {space.slug!r} has been shredded; its data is gone")


def index_key(space: Space) -> bytes:
    """The space's unwrapped index (HMAC) key."""
    cached = _index_keys.get(space.pk)
    if cached is not None:
        return cached
    _require_live(space)
    key = unwrap_key(bytes(space.index_key_wrapped), _index_aad(space))
    with _lock:
        _index_keys[space.pk] = key
    return key


def data_key(space: Space, version: int) -> bytes:
    """The space's unwrapped data key ``version``."""
    cached = _data_keys.get((space.pk, version))
    if cached is not None:
        return cached
    _require_live(space)
    row = SpaceKey.objects.filter(space=space, version=version).first()
    if row is None:
        raise DecryptionError(
            f"data key v{version} of space {space.slug!r} no longer exists "
            "(the space was shredded or the key retired)"
        )
    key = unwrap_key(bytes(row.wrapped_key), _dek_aad(space, version))
    with _lock:
        _data_keys[(space.pk, version)] = key
    return key


_ACTIVE_SQL = (
    "SELECT version FROM memories_spacekey WHERE space_id = %s AND state = %s LIMIT 1"
)


def active_version(space: Space) -> int:
    """The version of the data key that encrypts new values (one indexed query).

    Inside a transaction the key row is read ``FOR SHARE``: a rotation, which
    retires that row, then waits for in-flight writers, so no row can be sealed
    with a key that re-encryption has already passed over and destroyed. A
    writer that waited on a rotation sees the retired row drop out of its
    result and asks again, finding the new key.
    """
    _require_live(space)
    # Asked on every write, so plain SQL (query compilation would cost more
    # than the query: docs/operations.md, "Measured costs"); never cached:
    # after a rotation every process must seal with the new key.
    sql = _ACTIVE_SQL + (" FOR SHARE" if connection.in_atomic_block else "")
    for _attempt in range(3):
        with connection.cursor() as cursor:
            cursor.execute(sql, [space.pk, SpaceKey.State.ACTIVE.value])
            row = cursor.fetchone()
        if row:
            return row[0]
    raise DecryptionError(f"space {space.slug!r} has no active data key")


def seal_field(*, space: Space, version: int, text: str, aad: bytes) -> bytes:
    """Encrypt ``text`` with data key ``version`` of ``space``."""
    return seal(data_key(space, version), f"v{version}", text.encode("utf-8"), aad)


def open_field(*, space: Space, blob: bytes, aad: bytes) -> str:
    """Decrypt a sealed field of ``space`` (the header names the data key)."""
    key_id = peek_key_id(blob)
    if not key_id.startswith("v") or not key_id[1:].isdigit():
        raise DecryptionError(f"unexpected data key id {key_id!r} in sealed value")
    plaintext = open_sealed(data_key(space, int(key_id[1:])), blob, aad)
    return plaintext.decode("utf-8")


def forget_space(space_pk: int) -> None:
    """Drop cached keys of a space (after shredding or key retirement)."""
    with _lock:
        _index_keys.pop(space_pk, None)
        for cache_key in [k for k in _data_keys if k[0] == space_pk]:
            del _data_keys[cache_key]


@transaction.atomic
def data_key_rotate(*, space: Space) -> SpaceKey:
    """Add a new active data key; the old one is retired until re-encryption ends."""
    _require_live(space)
    current = (
        SpaceKey.objects.select_for_update()
        .filter(space=space, state=SpaceKey.State.ACTIVE)
        .first()
    )
    latest = SpaceKey.objects.filter(space=space).order_by("-version").first()
    version = (latest.version if latest else 0) + 1
    if current is not None:
        current.state = SpaceKey.State.RETIRED
        current.save(update_fields=["state"])
    return SpaceKey.objects.create(
        space=space,
        version=version,
        wrapped_key=wrap_key(new_data_key(), _dek_aad(space, version)),
        master_key_id=master_keyring().primary_id,
    )


@transaction.atomic
def master_key_rewrap() -> int:
    """Rewrap every data and index key not wrapped by the primary master key.

    Content is untouched: only the small wrapped keys change. Returns the
    number of keys rewrapped.
    """
    primary = master_keyring().primary_id
    count = 0
    for row in SpaceKey.objects.select_for_update().select_related("space"):
        if (
            row.master_key_id == primary
            and peek_key_id(bytes(row.wrapped_key)) == primary
        ):
            continue
        aad = _dek_aad(row.space, row.version)
        row.wrapped_key = wrap_key(unwrap_key(bytes(row.wrapped_key), aad), aad)
        row.master_key_id = primary
        row.save(update_fields=["wrapped_key", "master_key_id"])
        count += 1
    for space in Space.objects.select_for_update().filter(
        index_key_wrapped__isnull=False
    ):
        blob = bytes(space.index_key_wrapped)
        if peek_key_id(blob) == primary:
            continue
        space.index_key_wrapped = wrap_key(
            unwrap_key(blob, _index_aad(space)), _index_aad(space)
        )
        space.save(update_fields=["index_key_wrapped"])
        count += 1
    return count
