"""Rendering MemoryHub objects in the shapes mem0 clients read.

Plain functions rather than DRF serializers: the shapes are fixed by mem0,
output only, and on the hot path of every list and search. mem0 clients read
``memory``, ``hash``, ``expiration_date`` and ``null`` for unset ids.
"""

from datetime import UTC, datetime

from memories.mem0api.mapping import ENTITY_FIELDS
from memories.models import Memory
from memories.services import AddResult

# --- rendering --------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 with offset, or ``None``."""
    return moment.isoformat() if moment is not None else None


def render_expiration(moment: datetime | None) -> str | None:
    """``expires_at`` as mem0's ``expiration_date`` (the UTC day)."""
    return moment.astimezone(UTC).date().isoformat() if moment is not None else None


def memory_object(memory: Memory, *, score: float | None = None) -> dict:
    """A decrypted memory as the mem0 platform returns it."""
    data = {
        "id": str(memory.pk),
        "memory": memory.plaintext,
        "hash": bytes(memory.content_mac).hex(),
        "metadata": memory.metadata or None,
        "categories": list(memory.categories),
        **{name: getattr(memory, name) or None for name in ENTITY_FIELDS},
        "immutable": memory.immutable,
        "expiration_date": render_expiration(memory.expires_at),
        "created_at": _iso(memory.created_at),
        "updated_at": _iso(memory.updated_at),
    }
    if score is not None:
        data["score"] = score
    return data


def add_result(result: AddResult) -> dict:
    """One item of an add response: ``ADD`` when stored, ``NONE`` for a duplicate."""
    memory = result.memory
    return {
        "id": str(memory.pk),
        "memory": memory.plaintext,
        "event": "ADD" if result.status == "created" else "NONE",
        "data": {"memory": memory.plaintext},
    }


def history_entry(event: dict) -> dict:
    """A history event as mem0's ``old_memory``/``new_memory``/``event`` entry."""
    return {
        "id": str(event["id"]),
        "memory_id": str(event["memory_id"]),
        "event": event["event"],
        "old_memory": event["old_content"],
        "new_memory": event["new_content"],
        "actor": event["actor"],
        "surface": event["surface"],
        "created_at": _iso(event["at"]),
        "updated_at": _iso(event["at"]),
    }


def entity_object(row: dict, *, organization: str) -> dict:
    """A ``memory_entities`` row as an item of ``GET /v1/entities/``."""
    return {
        "id": f"{row['type']}:{row['name']}",
        "name": row["name"],
        "type": row["type"],
        "total_memories": row["total_memories"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "owner": organization,
        "organization": organization,
        "metadata": None,
    }


def extraction_result(entry: dict, scope: dict) -> dict:
    """One result of an extraction (:func:`memories.selectors.extraction_results`)
    as mem0 renders it: ``previous_memory`` on updates."""
    item = {
        "id": entry["id"],
        "memory": entry["memory"],
        "event": entry["event"],
        "data": {"memory": entry["memory"]},
        "categories": entry["categories"],
        **{name: scope.get(name) for name in ENTITY_FIELDS},
    }
    if "previous_memory" in entry:
        item["previous_memory"] = entry["previous_memory"]
    if "note" in entry:
        item["note"] = entry["note"]
    return item
