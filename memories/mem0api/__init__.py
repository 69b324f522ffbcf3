"""A mem0-compatible HTTP API: ``mem0.MemoryClient(host=...)`` works unchanged.

Served at the paths mem0's clients use (``/v1/``, ``/v2/``, ``/v3/``) by thin
DRF views over the same services, permissions, encryption and audit as the
native API. A key's team and space are taken from the credential, never from
the request body.
"""
