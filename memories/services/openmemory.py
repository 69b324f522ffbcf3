"""OpenMemory's backup archive, read as import units (docs/migrations.md).

OpenMemory (mem0's self-hosted app) exports a zip (``POST /api/v1/backup/export``)
holding ``memories.json`` (the user, apps, categories and memories, with ids)
and ``memories.jsonl.gz`` (one memory per line with its app and category
names). The zip is read defensively: only those two members, by name, in
memory (no path is ever written); a member that unpacks beyond
``MEMORYHUB_IMPORT_MAX_BYTES`` is refused before it is unpacked, a gzip
stream is cut there too, and a damaged or encrypted member is a 400. A bare
``memories.json`` (someone unzipped the backup) is read too.

Deleted memories are skipped, archived and paused ones arrive archived; the
app's name is ``app_id``, the user's id ``user_id``, category names
``categories``; OpenMemory's id is ``metadata.openmemory_id``.
"""

import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator

from django.conf import settings

from memories.services.units import Unit, json_line, numbered_lines
from memoryhub.errors import InvalidInput
from memoryhub.safejson import check_strings, loads_strict

OPENMEMORY_STATES = {"active": "active", "paused": "archived", "archived": "archived"}


def is_openmemory_document(value: dict) -> bool:
    """OpenMemory's ``memories.json`` (taken out of its zip), not a mem0 export."""
    return "memories" in value and ("export_meta" in value or "user" in value)


def openmemory_units(data: bytes) -> Iterator[Unit]:
    """The units of an OpenMemory zip (or its bare ``memories.json``)."""
    limit = settings.IMPORT_MAX_BYTES
    if data[:4] != b"PK\x03\x04" and data.lstrip()[:1] == b"{":
        # memories.json on its own, as someone who unzipped the backup has it
        try:
            export = loads_strict(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            export = None
        if not isinstance(export, dict) or not is_openmemory_document(export):
            raise InvalidInput(
                "not an OpenMemory export: expected its zip archive or its "
                'memories.json (with "user" and "memories")',
                field="file",
            )
        yield from _openmemory_rows(export, "")
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = {info.filename.rsplit("/", 1)[-1]: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput(
            "not an OpenMemory export: expected a zip archive", field="file"
        ) from None
    relational = names.get("memories.json")
    logical = names.get("memories.jsonl.gz")
    if relational is None and logical is None:
        raise InvalidInput(
            "not an OpenMemory export: the zip holds neither memories.json nor "
            "memories.jsonl.gz",
            field="file",
        )
    for info in (relational, logical):
        if info is not None and info.file_size > limit:
            raise InvalidInput(
                f"{info.filename} unpacks to {info.file_size:,} bytes; the limit is "
                f"{limit:,} (MEMORYHUB_IMPORT_MAX_BYTES)",
                field="file",
            )
    export = {} if relational is None else _read_json(archive, relational, limit)
    if logical is not None:
        user_id = _openmemory_user(export)
        member = f"{logical.filename}:"
        raw = _read_gzip(archive, logical, limit)
        for label, line in numbered_lines(raw, member):
            try:
                record = json_line(line)
            except InvalidInput as exc:
                yield Unit(label, error=exc)
                continue
            yield _openmemory_unit(
                label, record, user_id, record.get("app"), record.get("categories")
            )
        return
    yield from _openmemory_rows(export, f"{relational.filename}:")


def _openmemory_user(export: dict) -> str:
    user = export.get("user") or {}
    return str(user.get("user_id") or "") if isinstance(user, dict) else ""


def _openmemory_rows(export: dict, prefix: str) -> Iterator[Unit]:
    """The memories of ``memories.json``: app and category ids to names."""
    user_id = _openmemory_user(export)
    apps = _names_by_id(export.get("apps"))
    categories = _names_by_id(export.get("categories"))
    for index, row in enumerate(_objects(export.get("memories")), start=1):
        ids = row.get("category_ids")
        names_of = (
            [categories.get(c) for c in ids if isinstance(c, str)]
            if (isinstance(ids, list))
            else []
        )
        app = row.get("app_id")
        yield _openmemory_unit(
            f"{prefix}memories[{index}]",
            row,
            user_id,
            apps.get(app) if isinstance(app, str) else None,
            [n for n in names_of if n],
        )


def _objects(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _names_by_id(value) -> dict[str, str]:
    """``{id: name}`` of OpenMemory's apps or categories (rows of other shapes
    are left out, so a stray value cannot fail the whole file)."""
    return {
        row["id"]: row["name"]
        for row in _objects(value)
        if isinstance(row.get("id"), str) and isinstance(row.get("name"), str)
    }


def _member(archive, info, limit: int) -> bytes:
    """A member's bytes, at most ``limit + 1`` of them; a damaged or encrypted
    member is a 400 naming ``file`` (zipfile only finds out while reading)."""
    try:
        with archive.open(info) as stream:
            return stream.read(limit + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ):
        raise InvalidInput(
            f"{info.filename[:100]} cannot be read: the zip is damaged, encrypted "
            "or compressed in a way MemoryHub does not read",
            field="file",
        ) from None


def _read_json(archive, info, limit: int) -> dict:
    raw = _member(archive, info, limit)
    try:
        value = loads_strict(raw)
    except ValueError:
        raise InvalidInput(f"{info.filename} is not valid JSON", field="file") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{info.filename} must hold a JSON object", field="file")
    return value


def _read_gzip(archive, info, limit: int) -> bytes:
    packed = _member(archive, info, limit)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as unpacked:
            raw = unpacked.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise InvalidInput(f"{info.filename} is not valid gzip", field="file") from None
    if len(raw) > limit:
        raise InvalidInput(
            f"{info.filename} unpacks to more than {limit:,} bytes "
            "(MEMORYHUB_IMPORT_MAX_BYTES)",
            field="file",
        )
    return raw


def _openmemory_unit(label, record: dict, user_id: str, app, categories) -> Unit:
    state = record.get("state") or "active"
    if state == "deleted":
        return Unit(label, note="skipped: deleted in OpenMemory")
    if not isinstance(state, str) or state not in OPENMEMORY_STATES:
        return Unit(
            label,
            error=InvalidInput(f"unknown state {str(state)[:20]!r}", field="state"),
        )
    text = record.get("content")
    if not isinstance(text, str) or not text.strip():
        return Unit(label, error=InvalidInput("no memory text", field="content"))
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        return Unit(
            label, error=InvalidInput("metadata must be an object", field="metadata")
        )
    item = {"content": text, "metadata": {**metadata}}
    if record.get("id"):
        item["metadata"]["openmemory_id"] = str(record["id"])
    if user_id:
        item["user_id"] = user_id
    if isinstance(app, str) and app:
        item["app_id"] = app
    if isinstance(categories, list):
        item["categories"] = [c for c in categories if isinstance(c, str) and c]
    try:
        check_strings(item)
    except ValueError as exc:
        return Unit(label, error=InvalidInput(str(exc)))
    return Unit(label, item=item, archived=OPENMEMORY_STATES[state] == "archived")
