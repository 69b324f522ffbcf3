"""The official memory server's wire format: tool input schemas and data models.

``INPUT_SCHEMAS`` is what ``@modelcontextprotocol/server-memory`` lists in
``tools/list`` (draft-07, byte for byte, see ``tests/data``); the pydantic
models validate the same arguments and shape the results, adding provenance.
"""

from pydantic import BaseModel, ConfigDict, Field

from memories.mcp.tools import NOTICE

# --- the official input schemas (draft-07, as the official server lists them) -------

_DRAFT7 = "http://json-schema.org/draft-07/schema#"
_STRINGS = {"type": "array", "items": {"type": "string"}}
_ENTITY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The name of the entity"},
        "entityType": {"type": "string", "description": "The type of the entity"},
        "observations": {
            **_STRINGS,
            "description": "An array of observation contents associated with "
            "the entity",
        },
    },
    "required": ["name", "entityType", "observations"],
}
_RELATION = {
    "type": "object",
    "properties": {
        "from": {
            "type": "string",
            "description": "The name of the entity where the relation starts",
        },
        "to": {
            "type": "string",
            "description": "The name of the entity where the relation ends",
        },
        "relationType": {"type": "string", "description": "The type of the relation"},
    },
    "required": ["from", "to", "relationType"],
}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    """A draft-07 object schema, ``required`` only when there is something."""
    schema = {"$schema": _DRAFT7, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _entity_changes(inner: str, description: str) -> dict:
    """The array of per-entity observation changes (add or delete)."""
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "entityName": {"type": "string", "description": description},
                inner: {
                    **_STRINGS,
                    "description": (
                        "An array of observation contents to add"
                        if inner == "contents"
                        else "An array of observations to delete"
                    ),
                },
            },
            "required": ["entityName", inner],
        },
    }


INPUT_SCHEMAS = {
    "create_entities": _object(
        {"entities": {"type": "array", "items": _ENTITY}}, ["entities"]
    ),
    "create_relations": _object(
        {"relations": {"type": "array", "items": _RELATION}}, ["relations"]
    ),
    "add_observations": _object(
        {
            "observations": _entity_changes(
                "contents", "The name of the entity to add the observations to"
            )
        },
        ["observations"],
    ),
    "delete_entities": _object(
        {
            "entityNames": {
                **_STRINGS,
                "description": "An array of entity names to delete",
            }
        },
        ["entityNames"],
    ),
    "delete_observations": _object(
        {
            "deletions": _entity_changes(
                "observations", "The name of the entity containing the observations"
            )
        },
        ["deletions"],
    ),
    "delete_relations": _object(
        {
            "relations": {
                "type": "array",
                "items": _RELATION,
                "description": "An array of relations to delete",
            }
        },
        ["relations"],
    ),
    "read_graph": _object({}),
    "search_nodes": _object(
        {
            "query": {
                "type": "string",
                "description": "The search query to match against entity names, "
                "types, and observation content",
            }
        },
        ["query"],
    ),
    "open_nodes": _object(
        {
            "names": {
                **_STRINGS,
                "description": "An array of entity names to retrieve",
            }
        },
        ["names"],
    ),
}

# --- models ---------------------------------------------------------------------------


class Provenance(BaseModel):
    """Where a graph record came from."""

    space: str
    author: str | None
    created_at: str


class Entity(BaseModel):
    """An entity: a name, a type and observations."""

    name: str
    entityType: str
    observations: list[str]
    provenance: Provenance | None = None


class Relation(BaseModel):
    """A directed, typed relation between two entity names."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    relationType: str
    provenance: Provenance | None = None


class ObservationsIn(BaseModel):
    """Observations to add to one entity."""

    entityName: str
    contents: list[str]


class ObservationsOut(BaseModel):
    """The observations that were new for one entity."""

    entityName: str
    addedObservations: list[str]


class Deletion(BaseModel):
    """Observations to delete from one entity."""

    entityName: str
    observations: list[str]


class KnowledgeGraph(BaseModel):
    """Entities and relations (the official output shape, plus provenance)."""

    entities: list[Entity]
    relations: list[Relation]
    notice: str = NOTICE


class CreatedEntities(BaseModel):
    """Entities that did not exist yet."""

    entities: list[Entity]


class CreatedRelations(BaseModel):
    """Relations that did not exist yet."""

    relations: list[Relation]


class AddedObservations(BaseModel):
    """Per entity, the observations that were new."""

    results: list[ObservationsOut]


class Outcome(BaseModel):
    """The official delete tools' answer."""

    success: bool
    message: str
