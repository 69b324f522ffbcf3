"""Export a space as JSON Lines and import the same format back.

One memory per line, content decrypted. Export streams rows with a server-side
cursor, so memory use stays flat however large the space is; it is audited
when it starts (count and the first ids). Import parses line by line: a bad
line is reported with its 1-based number and never stops the good ones, which
are added through :func:`memories.services.memory_add_many` in chunks (each
chunk one transaction, with dedupe and history as for any add).
"""

from collections.abc import Iterable, Iterator

from django.conf import settings

from accounts.actors import Actor
from audit.services import MAX_IDS_PER_EVENT, access_record
from memories import permissions
from memories.encryption.sealing import memory_content
from memories.models import Memory, MemoryState, Space
from memories.permissions import require_perm
from memories.selectors.memories import memories_in
from memories.services.memories import AddResult, memory_add_many
from memoryhub.errors import InvalidInput
from memoryhub.safejson import check_strings, loads_strict

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
    *, actor: Actor, space: Space, surface: str = "api"
) -> Iterator[dict]:
    """Audit an export of ``space`` now and return an iterator over its rows.

    Active and archived, unexpired memories, oldest first. The permission
    check and the audit row happen before the first row is produced.
    """
    require_perm(actor, space, permissions.VIEW)
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

    def rows() -> Iterator[dict]:
        for memory in queryset.iterator(chunk_size=EXPORT_CHUNK):
            yield memory_export_row(memory, memory_content(memory, space))

    return rows()


def _parse_line(raw: bytes) -> dict:
    """One import line as an input dict for ``memory_add_many``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the line is not valid UTF-8") from None
    try:
        data = loads_strict(text)
    except ValueError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("each line must be a JSON object")
    unknown = sorted(
        key for key in data if key not in IMPORT_FIELDS + EXPORT_ONLY_FIELDS
    )
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(IMPORT_FIELDS)}",
            field=unknown[0],
        )
    check_strings(data)
    return {key: data[key] for key in IMPORT_FIELDS if key in data}


def memories_import(
    *,
    actor: Actor,
    space: Space,
    lines: Iterable[bytes],
    surface: str = "api",
    chunk_size: int | None = None,
    first_line: int = 1,
) -> dict:
    """Import JSON Lines into ``space``; returns per-line results and totals.

    ``first_line``: the number of the first of ``lines`` (a part of a file).

    ``{"results": [{"line", "status", "id"?, "error"?, "field"?}], "created",
    "duplicates", "errors"}``; blank lines are skipped.
    """
    require_perm(actor, space, permissions.ADD)
    chunk_size = chunk_size or settings.MEMORY_MAX_BATCH
    results: list[dict] = []
    pending: list[tuple[int, dict]] = []

    def flush() -> None:
        added = memory_add_many(
            actor=actor,
            space=space,
            items=[item for _, item in pending],
            surface=surface,
        )
        for (line, _), outcome in zip(pending, added, strict=True):
            results.append(outcome.as_item(line=line))
        pending.clear()

    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            pending.append((number, _parse_line(raw)))
        except InvalidInput as exc:
            results.append(AddResult.failed(exc).as_item(line=number))
        if len(pending) >= chunk_size:
            flush()
    if pending:
        flush()
    results.sort(key=lambda entry: entry["line"])
    totals = {
        status: sum(1 for entry in results if entry["status"] == status)
        for status in ("created", "duplicate", "error")
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
        },
    )
    return {
        "results": results,
        "created": totals["created"],
        "duplicates": totals["duplicate"],
        "errors": totals["error"],
    }
