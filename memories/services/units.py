"""What the file readers of :mod:`memories.services.formats` produce: import
units, each with its place in the file, and the JSON Lines reading they share."""

from collections.abc import Iterator
from dataclasses import dataclass

from memoryhub.errors import InvalidInput
from memoryhub.safejson import check_strings, loads_strict


@dataclass
class Unit:
    """One thing to import: a memory (``item``), a graph entity or relation
    (``graph``), or an error (``error``), with its place in the file."""

    label: int | str
    item: dict | None = None
    graph: dict | None = None
    error: InvalidInput | None = None
    archived: bool = False
    note: str = ""  # a unit skipped on purpose, and why


def json_line(raw: bytes) -> dict:
    """One line of a JSON Lines file as an object (a per-line 400 otherwise)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the line is not valid UTF-8") from None
    try:
        value = loads_strict(text)
    except ValueError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("each line must be a JSON object")
    check_strings(value)
    return value


def numbered_lines(data: bytes, prefix: str = "") -> Iterator[tuple[int | str, bytes]]:
    """The non-blank lines of ``data`` with their 1-based numbers (``prefix``
    before each, e.g. a zip member's name and a colon)."""
    for number, raw in enumerate(data.splitlines(), start=1):
        if raw.strip():
            yield (f"{prefix}{number}" if prefix else number), raw
