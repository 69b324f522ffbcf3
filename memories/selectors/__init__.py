"""Memory reads that cross a permission boundary; every surface calls these.

Each takes the actor and scopes its queryset *before* lookup, so an object the
caller may not see is a 404, never a 403. This package re-exports the public
selectors of its modules:

- :mod:`~memories.selectors.spaces`: a space by slug, a key's own space, the
  spaces an actor sees with their memory counts.
- :mod:`~memories.selectors.memories`: list, get, search, history, entities.
- :mod:`~memories.selectors.audit`: the audit rows a team may read.
- :mod:`~memories.selectors.graph`: the MCP-style knowledge graph of a space.
- :mod:`~memories.selectors.extraction`: extraction events, their results, summaries.
"""

from memories.selectors.audit import (
    access_events_for,
    memory_audit_trail,
    team_activity,
    team_usage,
)
from memories.selectors.extraction import (
    extraction_event_get,
    extraction_events_of,
    extraction_results,
    memories_summarize,
)
from memories.selectors.graph import (
    Graph,
    graph_load,
    graph_search_nodes,
)
from memories.selectors.imports import import_job_get, import_jobs_of
from memories.selectors.memories import (
    SEARCH_MODES,
    expired_count,
    memories_in,
    memories_list,
    memory_add_request,
    memory_authors,
    memory_entities,
    memory_get,
    memory_history,
    memory_page_decrypt,
    memory_search,
)
from memories.selectors.spaces import (
    key_own_space,
    space_get,
    spaces_of_team,
    spaces_overview,
    team_spaces,
)

__all__ = [
    "SEARCH_MODES",
    "Graph",
    "access_events_for",
    "expired_count",
    "extraction_event_get",
    "extraction_events_of",
    "extraction_results",
    "graph_load",
    "graph_search_nodes",
    "import_job_get",
    "import_jobs_of",
    "key_own_space",
    "memories_in",
    "memories_list",
    "memories_summarize",
    "memory_add_request",
    "memory_audit_trail",
    "memory_authors",
    "memory_entities",
    "memory_get",
    "memory_history",
    "memory_page_decrypt",
    "memory_search",
    "space_get",
    "spaces_of_team",
    "spaces_overview",
    "team_activity",
    "team_spaces",
    "team_usage",
]
