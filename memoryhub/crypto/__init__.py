"""The one place encryption happens: envelope AES-256-GCM and keyed HMACs.

Layers:
- master keys (KEKs) from ``MEMORYHUB_MASTER_KEYS``, never the database
  (:mod:`memoryhub.crypto.keys`);
- data keys (DEKs) per space, stored wrapped by a KEK;
- sealed values: a small versioned header + AES-GCM ciphertext, bound by
  associated data to the row and field they belong to
  (:mod:`memoryhub.crypto.aead`);
- keyed HMACs for dedupe and the keyword blind index
  (:mod:`memoryhub.crypto.blind`).
"""

from memoryhub.crypto.aead import (
    DecryptionError,
    new_data_key,
    open_sealed,
    peek_key_id,
    seal,
)
from memoryhub.crypto.blind import blind_tokens, content_mac, normalize_content
from memoryhub.crypto.keys import master_keyring, unwrap_key, wrap_key

__all__ = [
    "DecryptionError",
    "blind_tokens",
    "content_mac",
    "master_keyring",
    "new_data_key",
    "normalize_content",
    "open_sealed",
    "peek_key_id",
    "seal",
    "unwrap_key",
    "wrap_key",
]
