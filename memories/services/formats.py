"""Files other memory systems write, read as import units (docs/migrations.md).

:func:`file_units` turns an upload into :class:`Unit` s — one per memory,
graph entity or relation, each with a label a person can find in the file
(a line number, or ``member:line`` inside a zip) — after checking the
envelope: a file that is not what its format says is a 400 naming ``file``
(or ``format``) before anything is stored. Units that are wrong one by one
(a line that is not JSON, a memory without text) carry their error and are
reported as that unit's result, as for MemoryHub's own JSON Lines.

Formats:

* ``memoryhub`` — MemoryHub's JSON Lines export.
* ``mem0`` — mem0's export: what ``MemoryClient.get_memory_export`` returns
  (``{"memories": [...]}``; ``results`` or a top-level list too) or JSON Lines
  of mem0 memory objects. ``memory`` is the text; its id is kept as
  ``metadata.mem0_id``; ``immutable`` and ``expiration_date`` are kept (an
  already expired memory is skipped).
* ``openmemory`` — OpenMemory's backup archive (a zip with ``memories.json``
  and ``memories.jsonl.gz``, or that ``memories.json`` alone), read by
  :mod:`memories.services.openmemory`.
* ``mcp`` — the official MCP memory server's JSONL file: entities (with
  their observations) and relations become the space's knowledge graph, as
  the MCP endpoint's graph tools keep it. MemoryHub's own copies in such a
  file (what an ``mcp_memory`` backend writes: ``memoryhub:<id>`` entities of
  type ``memoryhub_memory``) become memories again, not graph entities.
* ``auto`` — whichever of these the bytes are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from memories.services.openmemory import is_openmemory_document, openmemory_units
from memories.services.units import Unit, json_line, numbered_lines
from memoryhub.errors import InvalidInput
from memoryhub.safejson import check_strings, loads_strict

FORMATS = ("memoryhub", "mem0", "openmemory", "mcp")
MEM0_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
# How routing's mcp_memory backend names the copy of a memory on an MCP memory
# server (routing.backends.mcp_memory, which this layer cannot import).
MCP_COPY_PREFIX = "memoryhub:"
MCP_COPY_TYPE = "memoryhub_memory"


def format_check(value) -> str:
    """``value`` if it names a format (or ``auto``); a 400 naming ``format``."""
    if value in (*FORMATS, "auto"):
        return value
    raise InvalidInput(
        f"unknown format {str(value)[:40]!r}; use one of: auto, {', '.join(FORMATS)}",
        field="format",
    )


def detect(data: bytes) -> str:
    """The format of ``data`` (a 400 naming ``file`` when none fits)."""
    if data[:4] == b"PK\x03\x04":
        return "openmemory"
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        first = _first_json(data)
        if isinstance(first, dict):
            if first.get("type") in ("entity", "relation"):
                return "mcp"
            if is_openmemory_document(first):
                return "openmemory"
            if "memory" in first or "memories" in first or "results" in first:
                return "mem0"
        if isinstance(first, list):
            return "mem0"
        # JSON Lines of anything else: MemoryHub's own, whose per-line
        # results say what is wrong with each line.
        return "memoryhub"
    raise InvalidInput(
        "the file is none of the formats MemoryHub imports (MemoryHub JSON "
        "Lines, a mem0 export, an OpenMemory zip, an MCP memory server "
        "file); choose its format",
        field="file",
    )


def _first_json(data: bytes):
    """The whole document if it is one JSON value, else its first line's."""
    try:
        return loads_strict(data)
    except ValueError:
        pass
    for raw in data.splitlines():
        if raw.strip():
            try:
                return loads_strict(raw)
            except ValueError:
                return None
    return None


def file_units(data: bytes, fmt: str) -> tuple[str, list[Unit]]:
    """The format (resolved if ``auto``) and the units of ``data``."""
    fmt = format_check(fmt)
    if fmt == "auto":
        fmt = detect(data)
    reader = {
        "memoryhub": _memoryhub_units,
        "mem0": _mem0_units,
        "openmemory": openmemory_units,
        "mcp": _mcp_units,
    }[fmt]
    return fmt, list(reader(data))


# --- MemoryHub ----------------------------------------------------------------------


def _memoryhub_units(data: bytes) -> Iterator[Unit]:
    # The transfer module owns MemoryHub's own line format.
    from memories.services.transfer import parse_line

    if data[:4] == b"PK\x03\x04":
        raise InvalidInput("the file is a zip, not JSON Lines", field="file")
    for label, raw in numbered_lines(data):
        try:
            yield Unit(label, item=parse_line(raw))
        except InvalidInput as exc:
            yield Unit(label, error=exc)


# --- mem0 ---------------------------------------------------------------------------


def _mem0_units(data: bytes) -> Iterator[Unit]:
    if data[:4] == b"PK\x03\x04":
        raise InvalidInput("the file is a zip, not a mem0 export", field="file")
    try:
        document = loads_strict(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if isinstance(document, dict):
        items = document.get("memories", document.get("results"))
        if not isinstance(items, list):
            raise InvalidInput(
                'a mem0 export holds its memories in a list under "memories"',
                field="file",
            )
        for index, item in enumerate(items, start=1):
            yield _mem0_unit(f"memories[{index}]", item)
        return
    if isinstance(document, list):
        for index, item in enumerate(document, start=1):
            yield _mem0_unit(f"[{index}]", item)
        return
    for label, raw in numbered_lines(data):  # JSON Lines of mem0 memories
        try:
            yield _mem0_unit(label, json_line(raw))
        except InvalidInput as exc:
            yield Unit(label, error=exc)


def _mem0_unit(label, item) -> Unit:
    if not isinstance(item, dict):
        return Unit(label, error=InvalidInput("each memory must be a JSON object"))
    text = item.get("memory", item.get("content"))
    if not isinstance(text, str) or not text.strip():
        return Unit(label, error=InvalidInput("no memory text", field="memory"))
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        return Unit(
            label, error=InvalidInput("metadata must be an object", field="metadata")
        )
    metadata = {k: v for k, v in metadata.items() if not k.startswith("memoryhub_")}
    if item.get("id"):
        metadata["mem0_id"] = str(item["id"])
    out = {"content": text, "metadata": metadata}
    for name in MEM0_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and value and not value.startswith("space:"):
            out[name] = value
    if isinstance(item.get("categories"), list):
        out["categories"] = [c for c in item["categories"] if isinstance(c, str)]
    if isinstance(item.get("immutable"), bool):
        out["immutable"] = item["immutable"]
    if item.get("expiration_date"):
        expires = _mem0_expiry(item["expiration_date"])
        if expires is None:
            return Unit(
                label,
                error=InvalidInput(
                    "expiration_date must be a date (YYYY-MM-DD) or an ISO 8601 "
                    "date-time",
                    field="expiration_date",
                ),
            )
        if expires <= timezone.now():
            return Unit(label, note="skipped: expired in mem0")
        out["expires_at"] = expires.isoformat()
    try:
        check_strings(out)
    except ValueError as exc:
        return Unit(label, error=InvalidInput(str(exc)))
    return Unit(label, item=out)


def _mem0_expiry(value) -> datetime | None:
    """mem0's ``expiration_date`` as an aware datetime: a bare date keeps the
    memory through that whole UTC day, as mem0's API (and MemoryHub's) read it."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time.max, tzinfo=UTC)
    except ValueError:
        pass
    try:
        moment = parse_datetime(value)
    except ValueError:  # well formed, but no such date
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


# --- the MCP memory server ----------------------------------------------------------


def _mcp_units(data: bytes) -> Iterator[Unit]:
    if data[:4] == b"PK\x03\x04":
        raise InvalidInput("the file is a zip, not an MCP memory file", field="file")
    seen_graph = False
    units = []
    copies = set()  # names of MemoryHub's own copies in this file
    for label, raw in numbered_lines(data):
        try:
            record = _mcp_record(json_line(raw))
        except InvalidInput as exc:
            units.append(Unit(label, error=exc))
            continue
        seen_graph = True
        if _is_copy(record):
            copies.add(record["name"])
            units.append(_mcp_copy_unit(label, record))
        else:
            units.append(Unit(label, graph=record))
    if units and not seen_graph:
        raise InvalidInput(
            "not an MCP memory server file: no line is an entity or a relation",
            field="file",
        )
    for unit in units:
        relation = unit.graph
        if (
            relation
            and relation["type"] == "relation"
            and copies
            & {
                relation["from"],
                relation["to"],
            }
        ):
            # Its end is imported as a memory, not as an entity of the graph,
            # so the relation would point at nothing there.
            unit.graph = None
            unit.note = "skipped: a relation of a MemoryHub copy (imported as a memory)"
    yield from units


def _is_copy(record: dict) -> bool:
    return (
        record["type"] == "entity"
        and record["entityType"] == MCP_COPY_TYPE
        and record["name"].startswith(MCP_COPY_PREFIX)
    )


def _mcp_copy_unit(label, record: dict) -> Unit:
    """A memory from MemoryHub's copy of it: its observation is the content
    (the backend writes exactly one; the first is read, as sync reads it)."""
    if not record["observations"]:
        return Unit(label, note="skipped: a MemoryHub copy without an observation")
    return Unit(
        label,
        item={
            "content": record["observations"][0],
            "metadata": {"mcp_entity": record["name"]},
        },
    )


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key} must be a non-empty string", field=key)
    return value


def _mcp_record(record: dict) -> dict:
    kind = record.get("type")
    if kind == "entity":
        observations = record.get("observations", [])
        if not isinstance(observations, list) or not all(
            isinstance(o, str) for o in observations
        ):
            raise InvalidInput(
                "observations must be a list of strings", field="observations"
            )
        return {
            "type": "entity",
            "name": _text(record, "name"),
            "entityType": _text(record, "entityType"),
            "observations": [o for o in observations if o.strip()],
        }
    if kind == "relation":
        return {
            "type": "relation",
            "from": _text(record, "from"),
            "to": _text(record, "to"),
            "relationType": _text(record, "relationType"),
        }
    raise InvalidInput(
        f"type must be 'entity' or 'relation', not {str(kind)[:20]!r}", field="type"
    )
