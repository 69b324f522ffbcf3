"""Encryption of memory fields, built on :mod:`memoryhub.crypto`.

- :mod:`~memories.encryption.keyring`: each space's data keys (wrapped by the
  master keys) and blind-index key; master and data key rotation.
- :mod:`~memories.encryption.sealing`: sealing and opening memory and history
  fields, bound to their row, space and field.
- :mod:`~memories.encryption.rotation`: re-encrypting a space's rows under a
  new data key in background batches.
"""
