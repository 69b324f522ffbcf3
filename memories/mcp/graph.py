"""The nine knowledge-graph tools of the official MCP memory server, on memories.

Same names and input schemas as ``@modelcontextprotocol/server-memory``, so an
agent configured for that server switches by changing only its URL. The tools
are a surface: the graph model and its storage as memories are
:mod:`memories.selectors.graph` (reads) and :mod:`memories.services.graph`
(writes); these functions translate between the MCP models and those.
"""

import json
from typing import Annotated

from mcp.server.mcpserver import Context
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
    Relation,
)
from memories.mcp.tools import NOTICE, SURFACE, call


def _graph_model(subgraph: dict) -> KnowledgeGraph:
    """A subgraph of :class:`memories.selectors.graph.Graph` as the output model."""
    return KnowledgeGraph(
        entities=[Entity(**entity) for entity in subgraph["entities"]],
        relations=[
            Relation(
                from_=r["from"],
                to=r["to"],
                relationType=r["relationType"],
                provenance=r["provenance"],
            )
            for r in subgraph["relations"]
        ],
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
    created = await call(
        ctx,
        services.graph_entities_create,
        entities=[
            {"name": e.name, "entityType": e.entityType, "observations": e.observations}
            for e in entities
        ],
        surface=SURFACE,
    )
    return _result(CreatedEntities(entities=[Entity(**e) for e in created]))


async def create_relations(
    ctx: Context, relations: list[Relation]
) -> Annotated[CallToolResult, CreatedRelations]:
    """Create multiple new relations between entities in the knowledge graph. Relations should be in active voice"""  # noqa: E501 - the official description
    created = await call(
        ctx,
        services.graph_relations_create,
        relations=[(r.from_, r.to, r.relationType) for r in relations],
        surface=SURFACE,
    )
    return _result(
        CreatedRelations(
            relations=[Relation(from_=f, to=t, relationType=r) for f, t, r in created]
        )
    )


async def add_observations(
    ctx: Context, observations: list[ObservationsIn]
) -> Annotated[CallToolResult, AddedObservations]:
    """Add new observations to existing entities in the knowledge graph"""
    added = await call(
        ctx,
        services.graph_observations_add,
        observations=[(o.entityName, o.contents) for o in observations],
        surface=SURFACE,
    )
    return _result(
        AddedObservations(
            results=[
                ObservationsOut(entityName=name, addedObservations=texts)
                for name, texts in added
            ]
        )
    )


async def delete_entities(
    ctx: Context,
    entityNames: list[str],
) -> Annotated[CallToolResult, Outcome]:
    """Delete multiple entities and their associated relations from the knowledge graph"""  # noqa: E501
    await call(ctx, services.graph_entities_delete, names=entityNames, surface=SURFACE)
    return _result(Outcome(success=True, message="Entities deleted successfully"))


async def delete_observations(
    ctx: Context, deletions: list[Deletion]
) -> Annotated[CallToolResult, Outcome]:
    """Delete specific observations from entities in the knowledge graph"""
    await call(
        ctx,
        services.graph_observations_delete,
        deletions=[(d.entityName, d.observations) for d in deletions],
        surface=SURFACE,
    )
    return _result(Outcome(success=True, message="Observations deleted successfully"))


async def delete_relations(
    ctx: Context, relations: list[Relation]
) -> Annotated[CallToolResult, Outcome]:
    """Delete multiple relations from the knowledge graph"""
    await call(
        ctx,
        services.graph_relations_delete,
        relations=[(r.from_, r.to, r.relationType) for r in relations],
        surface=SURFACE,
    )
    return _result(Outcome(success=True, message="Relations deleted successfully"))


def _whole(*, actor, space):
    graph = selectors.graph_load(actor=actor, space=space, surface=SURFACE)
    return graph.space, graph.subgraph()


def _named(*, actor, space, names):
    graph = selectors.graph_load(actor=actor, space=space, surface=SURFACE)
    return graph.space, graph.subgraph(set(names))


async def read_graph(ctx: Context) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Read the entire knowledge graph"""
    space, subgraph = await call(ctx, _whole)
    return _result(_graph_model(subgraph), stored_data=True, space=space)


async def search_nodes(
    ctx: Context, query: str
) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Search for nodes in the knowledge graph based on a query"""
    space, subgraph = await call(
        ctx, selectors.graph_search_nodes, query=query, surface=SURFACE
    )
    return _result(_graph_model(subgraph), stored_data=True, space=space)


async def open_nodes(
    ctx: Context, names: list[str]
) -> Annotated[CallToolResult, KnowledgeGraph]:
    """Open specific nodes in the knowledge graph by their names"""
    space, subgraph = await call(ctx, _named, names=names)
    return _result(_graph_model(subgraph), stored_data=True, space=space)


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
