"""Export a space as JSON Lines and import the same format back.

One memory per line, content decrypted. Export streams rows with a server-side
cursor, so memory use stays flat however large the space is; it is audited
when it starts (count and the first ids). Import parses line by line: a bad
line is reported with its 1-based number and never stops the good ones, which
are added through :func:`memories.services.memory_add_many` in chunks (each
chunk one transaction, with dedupe and history as for any add).
"""

import json
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from audit.services import MAX_IDS_PER_EVENT, access_record
from memories import permissions
from memories.encryption import keyring
from memories.encryption.sealing import memory_content
from memories.models import Memory, MemoryState, Space
from memories.permissions import require_perm
from memories.selectors.memories import memories_in
from memories.services.formats import file_units
from memories.services.graph import (
    graph_entities_create,
    graph_observations_add,
    graph_relations_create,
)
from memories.services.memories import (
    AddResult,
    dedupe_key,
    memory_add_many,
    memory_update,
)
from memories.services.units import Unit, json_line
from memories.validation import clean_memory_input
from memoryhub.crypto import content_mac
from memoryhub.errors import DomainError, InvalidInput, NotFound

IMPORT_FIELDS = (
    "content",
    "user_id",
    "agent_id",
    "app_id",
    "run_id",
    "metadata",
    "categories",
    "expires_at",
    "immutable",
)
# Written by export (and by the memory JSON of the API); accepted and ignored
# on import, since a new copy gets its own id, version and timestamps.
EXPORT_ONLY_FIELDS = (
    "id",
    "space",
    "state",
    "version",
    "hash",
    "created_at",
    "updated_at",
    "score",
)
EXPORT_CHUNK = 500


def memory_export_row(memory: Memory, content: str) -> dict:
    """The JSON object of one exported memory."""
    return {
        "id": str(memory.pk),
        "content": content,
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "app_id": memory.app_id,
        "run_id": memory.run_id,
        "metadata": memory.metadata,
        "categories": memory.categories,
        "state": memory.state,
        "expires_at": memory.expires_at.isoformat() if memory.expires_at else None,
        "immutable": memory.immutable,
        "version": memory.version,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
    }


def memories_export(
    *, actor: Actor, space: Space, surface: str = "api", shape: str = "memoryhub"
) -> Iterator[dict]:
    """Audit an export of ``space`` now and return an iterator over its rows.

    Active and archived, unexpired memories, oldest first. The permission
    check and the audit row happen before the first row is produced.
    ``shape``: ``memoryhub`` (this module's lines) or ``mem0`` (mem0's
    memory objects, for :func:`mem0_export_chunks`).
    """
    require_perm(actor, space, permissions.VIEW)
    if shape not in ("memoryhub", "mem0"):
        raise InvalidInput("format must be memoryhub or mem0", field="format")
    queryset = memories_in(
        space=space, states=(MemoryState.ACTIVE, MemoryState.ARCHIVED)
    ).order_by("created_at", "id")
    access_record(
        actor=actor,
        action="memory.export",
        surface=surface,
        space=space,
        memory_ids=queryset.values_list("pk", flat=True)[:MAX_IDS_PER_EVENT],
        count=queryset.count(),
    )

    render = mem0_export_row if shape == "mem0" else memory_export_row

    def rows() -> Iterator[dict]:
        for memory in queryset.iterator(chunk_size=EXPORT_CHUNK):
            yield render(memory, memory_content(memory, space))

    return rows()


def parse_line(raw: bytes) -> dict:
    """One import line as an input dict for ``memory_add_many``."""
    data = json_line(raw)
    unknown = sorted(
        key for key in data if key not in IMPORT_FIELDS + EXPORT_ONLY_FIELDS
    )
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(IMPORT_FIELDS)}",
            field=unknown[0],
        )
    return {key: data[key] for key in IMPORT_FIELDS if key in data}


def memories_import(
    *,
    actor: Actor,
    space: Space,
    lines: Iterable[bytes],
    surface: str = "api",
    first_line: int = 1,
) -> dict:
    """Import JSON Lines into ``space``; returns per-line results and totals.

    ``first_line``: the number of the first of ``lines`` (a part of a file).

    ``{"results": [{"line", "status", "id"?, "error"?, "field"?}], "created",
    "duplicates", "errors"}``; blank lines are skipped.
    """
    require_perm(actor, space, permissions.ADD)
    units = []
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            units.append(Unit(number, item=parse_line(raw)))
        except InvalidInput as exc:
            units.append(Unit(number, error=exc))
    outcome = memories_import_units(
        actor=actor, space=space, units=units, surface=surface
    )
    outcome.pop("skipped")  # MemoryHub's own lines are never skipped
    return outcome


# --- other systems' files (memories.services.formats) -------------------------------


def memories_import_file(
    *,
    actor: Actor,
    space: Space,
    data: bytes,
    format: str = "auto",
    surface: str = "api",
) -> dict:
    """Import a whole file of any format into ``space``; results as
    :func:`memories_import` gives them (``line`` is each unit's label) plus
    ``skipped`` and the ``format`` read. A file that is not its format is a
    400 and nothing is stored."""
    require_perm(actor, space, permissions.ADD)
    fmt, units = file_units(data, format)
    if not units:
        raise InvalidInput("the file holds nothing to import", field="file")
    outcome = memories_import_units(
        actor=actor, space=space, units=units, surface=surface
    )
    return {**outcome, "format": fmt}


def memories_import_units(
    *, actor: Actor, space: Space, units: Sequence[Unit], surface: str = "api"
) -> dict:
    """Import parsed units (:mod:`memories.services.formats`) in chunks: memories
    through ``memory_add_many``, graph records through the graph services."""
    require_perm(actor, space, permissions.ADD)
    results: list[dict] = []
    chunk = settings.MEMORY_MAX_BATCH
    for low in range(0, len(units), chunk):
        part = units[low : low + chunk]
        results += _import_memories(actor, space, [u for u in part if u.item], surface)
        results += _import_graph(actor, space, [u for u in part if u.graph], surface)
        for unit in part:
            if unit.error is not None:
                results.append(AddResult.failed(unit.error).as_item(line=unit.label))
            elif unit.note:
                results.append(
                    {"line": unit.label, "status": "skipped", "note": unit.note}
                )
    order = {unit.label: index for index, unit in enumerate(units)}
    results.sort(key=lambda entry: order[entry["line"]])
    totals = {
        status: sum(1 for entry in results if entry["status"] == status)
        for status in ("created", "duplicate", "error", "skipped")
    }
    access_record(
        actor=actor,
        action="memory.import",
        surface=surface,
        space=space,
        count=totals["created"] + totals["duplicate"],
        detail={
            "created": totals["created"],
            "duplicates": totals["duplicate"],
            "errors": totals["error"],
            "skipped": totals["skipped"],
        },
    )
    return {
        "results": results,
        "created": totals["created"],
        "duplicates": totals["duplicate"],
        "errors": totals["error"],
        "skipped": totals["skipped"],
    }


def _import_memories(actor, space, units: list[Unit], surface) -> list[dict]:
    if not units:
        return []
    twins = _archived_twins(space, units)
    fresh = [u for u in units if u.label not in twins]
    added = (
        memory_add_many(
            actor=actor, space=space, items=[u.item for u in fresh], surface=surface
        )
        if fresh
        else []
    )
    for unit, outcome in zip(fresh, added, strict=True):
        if unit.archived and outcome.status == "created":
            memory_update(
                actor=actor,
                space=space,
                memory_id=outcome.memory.pk,
                state=MemoryState.ARCHIVED,
                surface=surface,
            )
    return [
        outcome.as_item(line=unit.label)
        for unit, outcome in zip(fresh, added, strict=True)
    ] + [
        AddResult("duplicate", memory=memory).as_item(line=label)
        for label, memory in twins.items()
    ]


def _archived_twins(space: Space, units: list[Unit]) -> dict:
    """The archived memories of ``space`` that archived ``units`` repeat, by
    label. An add deduplicates against active memories only, so without this
    a second import of the same archive would add its archived ones again."""
    index_key = keyring.index_key(space)
    wanted = {}
    for unit in units:
        if not unit.archived:
            continue
        try:
            cleaned = clean_memory_input(unit.item)
        except DomainError:
            continue  # the add reports it
        wanted[unit.label] = dedupe_key(
            content_mac(index_key, cleaned.content), cleaned
        )
    if not wanted:
        return {}
    found = {
        dedupe_key(memory.content_mac, memory): memory
        for memory in Memory.objects.filter(
            space=space,
            state=MemoryState.ARCHIVED,
            content_mac__in=[key[0] for key in wanted.values()],
        )
    }
    return {label: found[key] for label, key in wanted.items() if key in found}


def _import_graph(actor, space, units: list[Unit], surface) -> list[dict]:
    """Entities (with their observations) and relations into the space's graph.

    The part goes in at once; if the graph refuses one of its records (an
    observation over the length limit), that attempt is rolled back and the
    part goes in a unit at a time, each in its own savepoint, so only the
    refused unit is an error and none of it is stored.
    """
    if not units:
        return []
    try:
        with transaction.atomic():
            return _graph_part(actor, space, units, surface)
    except (InvalidInput, NotFound):
        pass
    results = []
    for unit in units:
        try:
            with transaction.atomic():
                results += _graph_part(actor, space, [unit], surface)
        except (InvalidInput, NotFound) as exc:
            results.append(AddResult.failed(exc).as_item(line=unit.label))
    return results


def _graph_part(actor, space, units: list[Unit], surface) -> list[dict]:
    """Graph units into the graph; raises if the graph refuses a record."""
    entities = [u for u in units if u.graph["type"] == "entity"]
    relations = [u for u in units if u.graph["type"] == "relation"]
    made = {
        e["name"]
        for e in graph_entities_create(
            actor=actor,
            space=space,
            entities=[u.graph for u in entities],
            surface=surface,
        )
    }
    grown = {
        name
        for name, added in graph_observations_add(
            actor=actor,
            space=space,
            observations=[
                (u.graph["name"], u.graph["observations"])
                for u in entities
                if u.graph["name"] not in made
            ],
            surface=surface,
        )
        if added
    }
    new_relations = set(
        graph_relations_create(
            actor=actor,
            space=space,
            relations=[
                (u.graph["from"], u.graph["to"], u.graph["relationType"])
                for u in relations
            ],
            surface=surface,
        )
    )
    results = []
    for unit in entities:
        name = unit.graph["name"]
        fresh = name in made or name in grown
        made.discard(name)  # a repeated line is a duplicate
        grown.discard(name)
        results.append(
            {"line": unit.label, "status": "created" if fresh else "duplicate"}
        )
    for unit in relations:
        key = (unit.graph["from"], unit.graph["to"], unit.graph["relationType"])
        status = "created" if key in new_relations else "duplicate"
        new_relations.discard(key)
        results.append({"line": unit.label, "status": status})
    return results


# --- leaving: a space in mem0's export shape ------------------------------------


def mem0_export_row(memory: Memory, content: str) -> dict:
    """One memory as mem0's export lists it (and its clients read it)."""
    return {
        "id": str(memory.pk),
        "memory": content,
        "user_id": memory.user_id or None,
        "agent_id": memory.agent_id or None,
        "app_id": memory.app_id or None,
        "run_id": memory.run_id or None,
        "metadata": memory.metadata or None,
        "categories": list(memory.categories or []),
        "immutable": memory.immutable,
        "expiration_date": memory.expires_at.date().isoformat()
        if memory.expires_at
        else None,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
    }


def mem0_export_chunks(space: Space, rows: Iterable[dict]) -> Iterator[str]:
    """A streamed mem0 export document of ``rows`` (from :func:`memories_export`,
    with ``shape="mem0"``): ``{"memories": [...], "count": n}``."""
    yield '{"memories": ['
    count = 0
    for row in rows:
        yield ("," if count else "") + json.dumps(row, ensure_ascii=False)
        count += 1
    yield (
        f'], "count": {count}, "space": '
        + json.dumps(f"{space.team.slug}/{space.slug}")
        + "}"
    )
