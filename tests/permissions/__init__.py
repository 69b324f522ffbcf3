"""The permission matrix as data: every endpoint, declared once.

The entries live in one module per surface and register themselves in
:mod:`tests.permissions.registry`; importing this package loads them all.
``tests/test_permissions_matrix.py`` runs every HTTP entry against every
caller.
"""

from tests.permissions import (  # noqa: F401 - importing registers the entries
    mem0_api,
    native_memories,
    native_spaces,
    routing_api,
)
from tests.permissions.registry import ENDPOINTS, World

__all__ = ["ENDPOINTS", "World"]
