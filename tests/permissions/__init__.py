"""The permission matrix as data: every endpoint and every MCP tool, declared once.

The entries live in one module per surface and register themselves in
:mod:`tests.permissions.registry`; importing this package loads them all.
``tests/permissions/test_matrix.py`` runs every HTTP entry against every
caller, ``tests/permissions/test_mcp_tools.py`` every tool against every key, and
``tests/permissions/test_coverage.py`` fails when Django routes an endpoint,
or the MCP server lists a tool, that has no entry here.
"""

from tests.permissions import (  # noqa: F401 - importing registers the entries
    extraction_api,
    mcp_tools,
    mem0_api,
    native_memories,
    native_spaces,
    routing_api,
    sync_api,
    webhooks_api,
)
from tests.permissions.registry import ENDPOINTS, TOOLS, World

__all__ = ["ENDPOINTS", "TOOLS", "World"]
