"""The knowledge graph of a space, as the official MCP memory server models it.

The graph lives in the space as ordinary (encrypted, audited) memories in the
app scope ``app_id="mcp-graph"``, one JSON record per memory — the official
server's JSONL lines, with each observation split into its own memory:

* entity: ``{"type": "entity", "name": ..., "entityType": ...}``
* observation: ``{"type": "observation", "entityName": ..., "content": ...}``
* relation: ``{"type": "relation", "from": ..., "to": ..., "relationType": ...}``

Metadata holds only ``{"mcp_graph": "entity"|"observation"|"relation"}``:
names and texts stay in the encrypted content, never in clear columns. Reads
load the space's whole graph (one query, decrypted in memory);
:mod:`memories.services.graph` writes it. Any surface may call these: the MCP
endpoint's nine graph tools do (:mod:`memories.mcp.graph`).
"""

import json
from dataclasses import dataclass, field

from accounts.actors import Actor
from memories.models import Space
from memories.selectors.memories import (
    memories_list,
    memory_authors,
    memory_page_decrypt,
)
from memoryhub.errors import InvalidInput

GRAPH_APP = "mcp-graph"
MAX_RECORDS = 50_000


@dataclass
class Graph:
    """A space's graph; each record carries ``_id`` (its memory) and ``_provenance``."""

    space: str  # "team/space"
    entities: dict[str, dict] = field(default_factory=dict)  # name -> record
    observations: dict[str, list[dict]] = field(default_factory=dict)
    relations: list[dict] = field(default_factory=list)

    @staticmethod
    def relation_key(record: dict) -> tuple:
        """A relation's identity: (from, to, relationType)."""
        return (record["from"], record["to"], record["relationType"])

    def entity(self, name: str) -> dict:
        """An entity with its observations, repeats dropped (first one wins)."""
        record = self.entities[name]
        observations = dict.fromkeys(
            o["content"] for o in self.observations.get(name, [])
        )
        return {
            "name": name,
            "entityType": record["entityType"],
            "observations": list(observations),
            "provenance": record["_provenance"],
        }

    def unique_relations(self, names: set[str] | None = None) -> list[dict]:
        """Relations without repeats; only those touching ``names`` if given."""
        unique: dict[tuple, dict] = {}
        for record in self.relations:
            if names is not None and not (
                record["from"] in names or record["to"] in names
            ):
                continue
            unique.setdefault(self.relation_key(record), record)
        return list(unique.values())

    def subgraph(self, names: set[str] | None = None) -> dict:
        """``{"entities", "relations"}``: the entities named (all if None) and
        every relation touching one of them."""
        return {
            "entities": [
                self.entity(name)
                for name in self.entities
                if names is None or name in names
            ],
            "relations": [
                {
                    "from": r["from"],
                    "to": r["to"],
                    "relationType": r["relationType"],
                    "provenance": r["_provenance"],
                }
                for r in self.unique_relations(names)
            ],
        }


def graph_load(*, actor: Actor, space: Space, surface: str) -> Graph:
    """Read and decrypt every graph record of ``space`` (audited as one listing)."""
    queryset = memories_list(
        actor=actor, space=space, filters={"app_id": GRAPH_APP, "mcp_graph": "*"}
    ).order_by("created_at", "id")
    rows = list(queryset[: MAX_RECORDS + 1])
    if len(rows) > MAX_RECORDS:
        raise InvalidInput(
            f"the knowledge graph of this space holds more than {MAX_RECORDS} "
            "records; use search_memories for a graph this large"
        )
    memories = memory_page_decrypt(
        actor=actor, space=space, memories=rows, surface=surface
    )
    authors = memory_authors(
        actor=actor, space=space, memory_ids=[m.pk for m in memories]
    )
    graph = Graph(space=f"{space.team.slug}/{space.slug}")
    for memory in memories:
        try:
            record = json.loads(memory.plaintext)
        except ValueError:
            continue  # not written as a graph record
        if not isinstance(record, dict):
            continue
        record["_id"] = memory.pk
        record["_provenance"] = {
            "space": graph.space,
            "author": authors.get(memory.pk),
            "created_at": memory.created_at.isoformat(),
        }
        kind = record.get("type")
        if kind == "entity" and record.get("name") not in graph.entities:
            graph.entities[record["name"]] = record
        elif kind == "observation":
            graph.observations.setdefault(record.get("entityName"), []).append(record)
        elif kind == "relation":
            graph.relations.append(record)
    return graph


def graph_search_nodes(
    *, actor: Actor, space: Space, query: str, surface: str
) -> tuple[str, dict]:
    """Entities whose name, type or an observation contains ``query`` (any case)."""
    graph = graph_load(actor=actor, space=space, surface=surface)
    needle = query.lower()
    names = {
        name
        for name, record in graph.entities.items()
        if needle in name.lower()
        or needle in record["entityType"].lower()
        or any(needle in o["content"].lower() for o in graph.observations.get(name, []))
    }
    return graph.space, graph.subgraph(names)
