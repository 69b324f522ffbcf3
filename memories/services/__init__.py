"""Memory writes: every surface (REST, mem0, MCP, admin, commands, tasks) calls these.

One module per subdomain; this package re-exports their public services so
callers write ``from memories import services`` or
``from memories.services import memory_add``.

- :mod:`~memories.services.memories`: add (one, many), update, expiry on add.
- :mod:`~memories.services.spaces`: create, change, shred, purge.
- :mod:`~memories.services.sharing`: grant and revoke object permissions.
- :mod:`~memories.services.erasure`: delete, erase by filter or user, sweeps.
- :mod:`~memories.services.transfer`: JSON Lines export and import.
- :mod:`~memories.services.graph`: the MCP-style knowledge graph's writes.
- :mod:`~memories.services.extraction`: memories from conversations (LLM), and
  :mod:`~memories.services.extraction_settings` the space's settings for it.
"""

from memories.services.erasure import (
    memories_expire_sweep,
    memory_delete,
    memory_delete_by_filter,
    memory_delete_where,
    memory_erase_user,
)
from memories.services.extraction import extraction_run, extraction_submit
from memories.services.extraction_settings import (
    extraction_settings,
    extraction_settings_update,
)
from memories.services.graph import (
    graph_entities_create,
    graph_entities_delete,
    graph_observations_add,
    graph_observations_delete,
    graph_relations_create,
    graph_relations_delete,
)
from memories.services.imports import import_job_create, import_job_run
from memories.services.memories import (
    AddResult,
    batch_size_check,
    dedupe_key,
    expired_archive,
    memory_add,
    memory_add_many,
    memory_for_update,
    memory_update,
)
from memories.services.sharing import (
    PERM_ORDER,
    space_grant_set,
    space_grants,
    space_share,
    space_unshare,
)
from memories.services.spaces import (
    space_create,
    space_purge,
    space_shred,
    space_update,
)
from memories.services.transfer import (
    memories_export,
    memories_import,
    memories_import_file,
)

__all__ = [
    "PERM_ORDER",
    "AddResult",
    "batch_size_check",
    "dedupe_key",
    "expired_archive",
    "extraction_run",
    "extraction_settings",
    "extraction_settings_update",
    "extraction_submit",
    "graph_entities_create",
    "graph_entities_delete",
    "graph_observations_add",
    "graph_observations_delete",
    "graph_relations_create",
    "graph_relations_delete",
    "import_job_create",
    "import_job_run",
    "memories_expire_sweep",
    "memories_export",
    "memories_import",
    "memories_import_file",
    "memory_add",
    "memory_add_many",
    "memory_delete",
    "memory_delete_by_filter",
    "memory_delete_where",
    "memory_erase_user",
    "memory_for_update",
    "memory_update",
    "space_create",
    "space_grant_set",
    "space_grants",
    "space_purge",
    "space_share",
    "space_shred",
    "space_unshare",
    "space_update",
]
