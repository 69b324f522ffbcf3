"""Writes to a space's knowledge graph (model: :mod:`memories.selectors.graph`).

Each change loads the graph, computes the records to add or the memories to
delete, and goes through the memory services, so graph records are embedded,
encrypted, deduplicated, audited and replicated like any memory. Deletes are
soft, as ``memory_delete`` is. Content is deduplicated case-insensitively, so
two entities whose names differ only in case are one entity here.
"""

import json

from accounts.actors import Actor
from memories.models import Space
from memories.selectors.graph import GRAPH_APP, graph_load
from memories.selectors.memories import memories_in
from memories.services.erasure import memory_delete_where
from memories.services.memories import memory_add_many
from memoryhub.errors import InvalidInput, NotFound

ADD_CHUNK = 500  # records per memory_add_many call


def _add(actor: Actor, space: Space, records: list[dict], surface: str) -> None:
    """Store graph records as memories through the add service."""
    items = [
        {
            "content": json.dumps(record, ensure_ascii=False),
            "app_id": GRAPH_APP,
            "metadata": {"mcp_graph": record["type"]},
        }
        for record in records
    ]
    for start in range(0, len(items), ADD_CHUNK):
        results = memory_add_many(
            actor=actor,
            space=space,
            items=items[start : start + ADD_CHUNK],
            surface=surface,
        )
        for outcome in results:
            if not outcome.ok:
                raise InvalidInput(outcome.error, field=outcome.field)


def _delete(actor: Actor, space: Space, ids: list, surface: str) -> None:
    """Soft-delete the memories holding the records ``ids``."""
    if ids:
        memory_delete_where(
            actor=actor,
            space=space,
            queryset=memories_in(space=space).filter(pk__in=ids),
            surface=surface,
        )


def graph_entities_create(
    *, actor: Actor, space: Space, entities: list[dict], surface: str
) -> list[dict]:
    """Create entities (``name``, ``entityType``, ``observations``) not yet there.

    Returns the ones created; an existing name, or a repeat, is skipped.
    """
    graph = graph_load(actor=actor, space=space, surface=surface)
    new: dict[str, dict] = {}
    for entity in entities:
        if entity["name"] not in graph.entities and entity["name"] not in new:
            new[entity["name"]] = entity
    records = []
    for entity in new.values():
        records.append(
            {
                "type": "entity",
                "name": entity["name"],
                "entityType": entity["entityType"],
            }
        )
        records.extend(
            {"type": "observation", "entityName": entity["name"], "content": text}
            for text in dict.fromkeys(entity["observations"])
        )
    _add(actor, space, records, surface)
    return list(new.values())


def graph_relations_create(
    *, actor: Actor, space: Space, relations: list[tuple[str, str, str]], surface: str
) -> list[tuple[str, str, str]]:
    """Create relations ``(from, to, relationType)`` not yet there; returns them."""
    graph = graph_load(actor=actor, space=space, surface=surface)
    existing = {graph.relation_key(record) for record in graph.relations}
    new = [key for key in dict.fromkeys(relations) if key not in existing]
    _add(
        actor,
        space,
        [
            {"type": "relation", "from": f, "to": t, "relationType": r}
            for f, t, r in new
        ],
        surface,
    )
    return new


def graph_observations_add(
    *,
    actor: Actor,
    space: Space,
    observations: list[tuple[str, list[str]]],
    surface: str,
) -> list[tuple[str, list[str]]]:
    """Add ``(entityName, contents)`` observations; returns what each entity gained.

    Every entity must exist (``NotFound`` otherwise, and nothing is written).
    """
    graph = graph_load(actor=actor, space=space, surface=surface)
    results, records = [], []
    for name, contents in observations:
        if name not in graph.entities:
            raise NotFound(f"Entity with name {name} not found")
        have = {o["content"] for o in graph.observations.get(name, [])}
        added = [text for text in dict.fromkeys(contents) if text not in have]
        graph.observations.setdefault(name, []).extend(
            {"content": text} for text in added
        )
        records.extend(
            {"type": "observation", "entityName": name, "content": text}
            for text in added
        )
        results.append((name, added))
    _add(actor, space, records, surface)
    return results


def graph_entities_delete(
    *, actor: Actor, space: Space, names: list[str], surface: str
) -> None:
    """Delete entities with their observations and every relation touching them."""
    graph = graph_load(actor=actor, space=space, surface=surface)
    doomed = set(names)
    ids = [graph.entities[n]["_id"] for n in doomed if n in graph.entities]
    ids += [o["_id"] for n in doomed for o in graph.observations.get(n, [])]
    ids += [
        r["_id"] for r in graph.relations if r["from"] in doomed or r["to"] in doomed
    ]
    _delete(actor, space, ids, surface)


def graph_observations_delete(
    *,
    actor: Actor,
    space: Space,
    deletions: list[tuple[str, list[str]]],
    surface: str,
) -> None:
    """Delete the named observations ``(entityName, observations)``."""
    graph = graph_load(actor=actor, space=space, surface=surface)
    ids = [
        record["_id"]
        for name, contents in deletions
        for record in graph.observations.get(name, [])
        if record["content"] in contents
    ]
    _delete(actor, space, ids, surface)


def graph_relations_delete(
    *,
    actor: Actor,
    space: Space,
    relations: list[tuple[str, str, str]],
    surface: str,
) -> None:
    """Delete relations ``(from, to, relationType)``."""
    graph = graph_load(actor=actor, space=space, surface=surface)
    doomed = set(relations)
    ids = [r["_id"] for r in graph.relations if graph.relation_key(r) in doomed]
    _delete(actor, space, ids, surface)
