"""Sealed values: AES-256-GCM with a versioned header and bound associated data.

Layout of a sealed value::

    b"MH" | format version (1 byte) | key-id length (1 byte) | key id (ascii)
          | nonce (12 bytes) | ciphertext + GCM tag

The header is authenticated too (it is prepended to the associated data), so
changing the key id or version of a sealed value makes it fail to open. The
caller's associated data names the row and field (for a memory:
``memory:<uuid>:<space uuid>:content``), so a ciphertext copied to another row
or field fails to decrypt instead of silently showing the wrong content.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MH"
FORMAT_VERSION = 1
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A sealed value could not be opened (wrong row, key, or tampering)."""


def new_data_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def _header(key_id: str) -> bytes:
    raw_id = key_id.encode("ascii")
    if not 0 < len(raw_id) < 256:
        raise ValueError("key id must be 1-255 ASCII characters")
    return MAGIC + bytes([FORMAT_VERSION, len(raw_id)]) + raw_id


def seal(key: bytes, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key``, bound to ``aad``."""
    header = _header(key_id)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def _split(blob: bytes) -> tuple[bytes, str, bytes, bytes]:
    blob = bytes(blob)
    if len(blob) < 4 or blob[:2] != MAGIC:
        raise DecryptionError("not a MemoryHub sealed value (bad header)")
    if blob[2] != FORMAT_VERSION:
        raise DecryptionError(f"unsupported sealed value format {blob[2]}")
    id_len = blob[3]
    header_end = 4 + id_len
    if len(blob) < header_end + NONCE_BYTES + 16:
        raise DecryptionError("sealed value is truncated")
    key_id = blob[4:header_end].decode("ascii")
    nonce = blob[header_end : header_end + NONCE_BYTES]
    return blob[:header_end], key_id, nonce, blob[header_end + NONCE_BYTES :]


def peek_key_id(blob: bytes) -> str:
    """The key id a sealed value was encrypted with (without decrypting)."""
    return _split(blob)[1]


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a value produced by :func:`seal` with the same ``aad``."""
    header, _key_id, nonce, ciphertext = _split(blob)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, header + aad)
    except InvalidTag:
        raise DecryptionError(
            "ciphertext does not belong to this row/field or was tampered with"
        ) from None
