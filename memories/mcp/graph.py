"""The nine knowledge-graph tools of the official MCP memory server, on memories.

Same names and input schemas as ``@modelcontextprotocol/server-memory``, so an
agent configured for that server switches by changing only its URL. The graph
lives in the key's space as ordinary (encrypted, audited) memories in the app
scope ``app_id="mcp-graph"``, one JSON record per memory — the official
server's JSONL lines, with each observation split into its own memory:

* entity: ``{"type": "entity", "name": ..., "entityType": ...}``
* observation: ``{"type": "observation", "entityName": ..., "content": ...}``
* relation: ``{"type": "relation", "from": ..., "to": ..., "relationType": ...}``

Metadata holds only ``{"mcp_graph": "entity"|"observation"|"relation"}``:
names and texts stay in the encrypted content, never in clear columns. Every
call loads the space's graph (one query, decrypted in memory) and writes
through the memory services; deletes are soft, like ``delete_memory``.
Content is deduplicated case-insensitively, so two entities whose names
differ only in case are one entity here.
"""

import json
from dataclasses import dataclass, field
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from memories import selectors, services
from memories.mcp.graph_schemas import (
    INPUT_SCHEMAS,
    AddedObservations,
    CreatedEntities,
    CreatedRelations,
    Deletion,
    Entity,
    KnowledgeGraph,
    ObservationsIn,
    ObservationsOut,
    Outcome,
    Provenance,
    Relation,
)
from memories.mcp.tools import NOTICE, SURFACE, call, space_label
from memories.services import erasure

GRAPH_APP = "mcp-graph"
MAX_RECORDS = 50_000

# --- loading the graph ----------------------------------------------------------------


@dataclass
class Graph:
    """The space's graph, each record with the id of the memory that holds it."""

    space: str
    entities: dict[str, dict] = field(default_factory=dict)  # name -> record
    observations: dict[str, list[dict]] = field(default_factory=dict)
    relations: list[dict] = field(default_factory=list)

    def relation_key(self, record: dict) -> tuple:
        """A relation's identity: (from, to, relationType)."""
        return (record["from"], record["to"], record["relationType"])


def load_graph(actor, space) -> Graph:
    """Read and decrypt every graph record of ``space`` (audited as one listing)."""
    queryset = selectors.memories_list(
        actor=actor, space=space, filters={"app_id": GRAPH_APP, "mcp_graph": "*"}
    ).order_by("created_at", "id")
    rows = list(queryset[: MAX_RECORDS + 1])
    if len(rows) > MAX_RECORDS:
        raise ToolError(
            f"the knowledge graph of this space holds more than {MAX_RECORDS} "
            "records; use search_memories for a graph this large"
        )
    memories = selectors.memory_page_decrypt(
        actor=actor, space=space, memories=rows, surface=SURFACE
    )
    authors = selectors.memory_authors(
        actor=actor, space=space, memory_ids=[m.pk for m in memories]
    )
    graph = Graph(space=space_label(space))
    for memory in memories:
        try:
            record = json.loads(memory.plaintext)
        except ValueError:
            continue  # not written by these tools
        if not isinstance(record, dict):
            continue
        record["_id"] = memory.pk
        record["_provenance"] = Provenance(
            space=graph.space,
            author=authors.get(memory.pk),
            created_at=memory.created_at.isoformat(),
        )
        kind = record.get("type")
        if kind == "entity" and record.get("name") not in graph.entities:
            graph.entities[record["name"]] = record
        elif kind == "observation":
            graph.observations.setdefault(record.get("entityName"), []).append(record)
        elif kind == "relation":
            graph.relations.append(record)
    return graph


def _entity(graph: Graph, name: str) -> Entity:
    """An entity of the graph with its observations (first occurrence wins)."""
    record = graph.entities[name]
    seen: list[str] = []
    for observation in graph.observations.get(name, []):
        if observation["content"] not in seen:
            seen.append(observation["content"])
    return Entity(
        name=name,
        entityType=record["entityType"],
        observations=seen,
        provenance=record["_provenance"],
    )


def _relation(record: dict) -> Relation:
    """A relation record as the output model."""
    return Relation(
        from_=record["from"],
        to=record["to"],
        relationType=record["relationType"],
        provenance=record["_provenance"],
    )


def _unique_relations(graph: Graph, names: set[str] | None = None) -> list[dict]:
    """Relations without repeats; only those touching ``names`` if given."""
    unique: dict[tuple, dict] = {}
    for record in graph.relations:
        if names is not None and not (record["from"] in names or record["to"] in names):
            continue
        unique.setdefault(graph.relation_key(record), record)
    return list(unique.values())


def _subgraph(graph: Graph, names: set[str]) -> KnowledgeGraph:
    """The entities named, and every relation touching one of them."""
    return KnowledgeGraph(
        entities=[_entity(graph, name) for name in graph.entities if name in names],
        relations=[_relation(record) for record in _unique_relations(graph, names)],
    )


def _add(actor, space, records: list[dict]) -> None:
    """Store graph records as memories through the add service."""
    if not records:
        return
    items = [
        {
            "content": json.dumps(record, ensure_ascii=False),
            "app_id": GRAPH_APP,
            "metadata": {"mcp_graph": record["type"]},
        }
        for record in records
    ]
    for start in range(0, len(items), 500):
        results = services.memory_add_many(
            actor=actor, space=space, items=items[start : start + 500], surface=SURFACE
        )
        for outcome in results:
            if outcome["status"] == "error":
                raise ToolError(outcome["error"])


def _delete(actor, space, ids: list) -> None:
    """Soft-delete the memories holding ``ids`` records."""
    if ids:
        erasure.memory_delete_where(
            actor=actor,
            space=space,
            queryset=selectors.memories_in(space=space).filter(pk__in=ids),
            surface=SURFACE,
        )


# --- rendering ------------------------------------------------------------------------


def _text(model: BaseModel, *, stored_data: bool, space: str | None = None) -> str:
    """JSON for the model; stored data wrapped and unable to close its wrapper."""
    body = json.dumps(
        model.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2
    )
    if not stored_data:
        return body
    body = body.replace("<", "\\u003c")  # still JSON; cannot end the wrapper
    return (
        f'<memoryhub-data kind="knowledge-graph" space="{space}" '
        f'note="{NOTICE}">\n{body}\n</memoryhub-data>'
    )


def _result(model: BaseModel, *, stored_data: bool = False, space=None):
    """A tool result: JSON text (wrapped if stored data) and structured content."""
    return CallToolResult(
        content=[TextContent(text=_text(model, stored_data=stored_data, space=space))],
        structured_content=model.model_dump(
            mode="json", by_alias=True, exclude_none=True
        ),
    )


# --- tools ----------------------------------------------------------------------------


async def create_entities(
    ctx: Context, entities: list[Entity]
) -> Annotated[CallToolResult, CreatedEntities]:
    """Create multiple new entities in the knowledge graph"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        new: dict[str, Entity] = {}
        for entity in entities:
            if entity.name not in graph.entities and entity.name not in new:
                new[entity.name] = entity
        records = []
        for entity in new.values():
            records.append(
                {"type": "entity", "name": entity.name, "entityType": entity.entityType}
            )
            records.extend(
                {"type": "observation", "entityName": entity.name, "content": text}
                for text in dict.fromkeys(entity.observations)
            )
        _add(actor, space, records)
        return [
            Entity(name=e.name, entityType=e.entityType, observations=e.observations)
            for e in new.values()
        ]

    return _result(CreatedEntities(entities=await call(ctx, work)))


async def create_relations(
    ctx: Context, relations: list[Relation]
) -> Annotated[CallToolResult, CreatedRelations]:
    """Create multiple new relations between entities in the knowledge graph. Relations should be in active voice"""  # noqa: E501 - the official description

    def work(*, actor, space):
        graph = load_graph(actor, space)
        existing = {graph.relation_key(record) for record in graph.relations}
        new: dict[tuple, Relation] = {}
        for relation in relations:
            key = (relation.from_, relation.to, relation.relationType)
            if key not in existing and key not in new:
                new[key] = relation
        _add(
            actor,
            space,
            [
                {"type": "relation", "from": f, "to": t, "relationType": r}
                for f, t, r in new
            ],
        )
        return [
            Relation(from_=r.from_, to=r.to, relationType=r.relationType)
            for r in new.values()
        ]

    return _result(CreatedRelations(relations=await call(ctx, work)))


async def add_observations(
    ctx: Context, observations: list[ObservationsIn]
) -> Annotated[CallToolResult, AddedObservations]:
    """Add new observations to existing entities in the knowledge graph"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        results, records = [], []
        for change in observations:
            if change.entityName not in graph.entities:
                raise ToolError(f"Entity with name {change.entityName} not found")
            have = {o["content"] for o in graph.observations.get(change.entityName, [])}
            added = [
                text for text in dict.fromkeys(change.contents) if text not in have
            ]
            have.update(added)
            graph.observations.setdefault(change.entityName, []).extend(
                {"content": text} for text in added
            )
            records.extend(
                {"type": "observation", "entityName": change.entityName, "content": t}
                for t in added
            )
            results.append(
                ObservationsOut(entityName=change.entityName, addedObservations=added)
            )
        _add(actor, space, records)
        return results

    return _result(AddedObservations(results=await call(ctx, work)))


async def delete_entities(
    ctx: Context,
    entityNames: list[str],
) -> Annotated[CallToolResult, Outcome]:
    """Delete multiple entities and their associated relations from the knowledge graph"""  # noqa: E501

    def work(*, actor, space):
        graph = load_graph(actor, space)
        names = set(entityNames)
        ids = [graph.entities[n]["_id"] for n in names if n in graph.entities]
        ids += [o["_id"] for n in names for o in graph.observations.get(n, [])]
        ids += [
            r["_id"] for r in graph.relations if r["from"] in names or r["to"] in names
        ]
        _delete(actor, space, ids)

    await call(ctx, work)
    return _result(Outcome(success=True, message="Entities deleted successfully"))


async def delete_observations(
    ctx: Context, deletions: list[Deletion]
) -> Annotated[CallToolResult, Outcome]:
    """Delete specific observations from entities in the knowledge graph"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        ids = [
            record["_id"]
            for deletion in deletions
            for record in graph.observations.get(deletion.entityName, [])
            if record["content"] in deletion.observations
        ]
        _delete(actor, space, ids)

    await call(ctx, work)
    return _result(Outcome(success=True, message="Observations deleted successfully"))


async def delete_relations(
    ctx: Context, relations: list[Relation]
) -> Annotated[CallToolResult, Outcome]:
    """Delete multiple relations from the knowledge graph"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        doomed = {(r.from_, r.to, r.relationType) for r in relations}
        ids = [r["_id"] for r in graph.relations if graph.relation_key(r) in doomed]
        _delete(actor, space, ids)

    await call(ctx, work)
    return _result(Outcome(success=True, message="Relations deleted successfully"))


async def read_graph(ctx: Context) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Read the entire knowledge graph"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        return graph.space, KnowledgeGraph(
            entities=[_entity(graph, name) for name in graph.entities],
            relations=[_relation(r) for r in _unique_relations(graph)],
        )

    space, model = await call(ctx, work)
    return _result(model, stored_data=True, space=space)


async def search_nodes(
    ctx: Context, query: str
) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Search for nodes in the knowledge graph based on a query"""
    needle = query.lower()

    def work(*, actor, space):
        graph = load_graph(actor, space)
        names = {
            name
            for name, record in graph.entities.items()
            if needle in name.lower()
            or needle in record["entityType"].lower()
            or any(
                needle in o["content"].lower() for o in graph.observations.get(name, [])
            )
        }
        return graph.space, _subgraph(graph, names)

    space, model = await call(ctx, work)
    return _result(model, stored_data=True, space=space)


async def open_nodes(
    ctx: Context, names: list[str]
) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Open specific nodes in the knowledge graph by their names"""

    def work(*, actor, space):
        graph = load_graph(actor, space)
        return graph.space, _subgraph(graph, set(names))

    space, model = await call(ctx, work)
    return _result(model, stored_data=True, space=space)


_TITLES = {
    "create_entities": ("Create Entities", False, False, False),
    "create_relations": ("Create Relations", False, False, False),
    "add_observations": ("Add Observations", False, False, False),
    "delete_entities": ("Delete Entities", False, True, True),
    "delete_observations": ("Delete Observations", False, True, True),
    "delete_relations": ("Delete Relations", False, True, True),
    "read_graph": ("Read Graph", True, False, True),
    "search_nodes": ("Search Nodes", True, False, True),
    "open_nodes": ("Open Nodes", True, False, True),
}


def graph_tools() -> list[Tool]:
    """The nine graph tools, with the official input schemas and annotations."""
    functions = [
        create_entities,
        create_relations,
        add_observations,
        delete_entities,
        delete_observations,
        delete_relations,
        read_graph,
        search_nodes,
        open_nodes,
    ]
    tools = []
    for fn in functions:
        title, read_only, destructive, idempotent = _TITLES[fn.__name__]
        tool = Tool.from_function(
            fn,
            title=title,
            annotations=ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=destructive,
                idempotent_hint=idempotent,
                open_world_hint=False,
            ),
        )
        # Published exactly as the official server lists it; arguments are
        # still validated by the function's own (equivalent) model.
        tool.parameters = INPUT_SCHEMAS[fn.__name__]
        tools.append(tool)
    return tools
