"""Master keys (KEKs): parsed from settings, used only to wrap data keys.

``MEMORYHUB_MASTER_KEYS`` holds ``id:base64key`` entries separated by commas.
The first entry wraps new data keys; every entry can unwrap, so rotating the
master key is: prepend a new entry, run ``manage.py rotate_master_key`` (which
rewraps every data key with the new one), then drop the old entry.

Run ``python -m memoryhub.crypto.keys [ID]`` to print a new entry.
"""

import base64
import binascii
import functools
import secrets
import sys
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from memoryhub.crypto.aead import DecryptionError, open_sealed, peek_key_id, seal


@dataclass(frozen=True)
class MasterKeyRing:
    """Ordered master keys: ``primary_id`` encrypts, all decrypt."""

    keys: dict[str, bytes]
    primary_id: str

    @classmethod
    def parse(cls, raw: str) -> "MasterKeyRing":
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in (item.strip() for item in raw.split(",")):
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id:
                raise ImproperlyConfigured(
                    "MEMORYHUB_MASTER_KEYS entries must look like id:base64key"
                )
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raise ImproperlyConfigured(
                    f"MEMORYHUB_MASTER_KEYS entry {key_id!r} is not valid base64"
                ) from None
            if len(key) != 32:
                raise ImproperlyConfigured(
                    f"MEMORYHUB_MASTER_KEYS entry {key_id!r} must decode to 32 bytes, "
                    f"got {len(key)}"
                )
            if key_id in keys:
                raise ImproperlyConfigured(f"duplicate master key id {key_id!r}")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise ImproperlyConfigured("MEMORYHUB_MASTER_KEYS holds no key")
        return cls(keys=keys, primary_id=order[0])


@functools.cache
def master_keyring() -> MasterKeyRing:
    """The configured master keys (parsed once per process)."""
    return MasterKeyRing.parse(settings.MASTER_KEYS)


def wrap_key(data_key: bytes, aad: bytes) -> bytes:
    """Wrap a data key with the primary master key."""
    ring = master_keyring()
    return seal(ring.keys[ring.primary_id], ring.primary_id, data_key, aad)


def unwrap_key(wrapped: bytes, aad: bytes) -> bytes:
    """Unwrap a data key with whichever configured master key wrapped it."""
    ring = master_keyring()
    key_id = peek_key_id(wrapped)
    if key_id not in ring.keys:
        raise DecryptionError(
            f"data key was wrapped with master key {key_id!r}, which is not in "
            "MEMORYHUB_MASTER_KEYS; add it back to read this data"
        )
    return open_sealed(ring.keys[key_id], wrapped, aad)


def wrapped_with(wrapped: bytes) -> str:
    """The master key id that wrapped ``wrapped``."""
    return peek_key_id(wrapped)


if __name__ == "__main__":
    key_id = sys.argv[1] if len(sys.argv) > 1 else f"k{secrets.randbelow(10**6)}"
    print(f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}")
