"""A sync job's filter: MemoryHub's filter language on subject ids, categories
and metadata, as a ``Q`` over a space (push) and as a test of one pulled item.

A push selects memories in the database with :func:`memories.filters.
compile_filters`; a pull must decide for items that are not rows yet, so
:func:`filter_matches` evaluates the same filter in Python with the same
semantics (documented in :mod:`memories.filters`). Dates, state and keywords
are refused: they describe a memory's life in MemoryHub, which a backend's
item does not share.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from memories.filters import (
    DATE_FIELDS,
    LOGICAL,
    TEXT_FIELDS,
    WILDCARD,
    compile_filters,
)
from memoryhub.errors import InvalidInput

REFUSED = (*DATE_FIELDS, "state", "keywords")


def filter_check(spec: Any) -> dict:
    """``spec`` checked (400 naming ``filter`` and the path); ``{}`` for none."""
    if spec in (None, {}):
        return {}
    try:
        compile_filters(spec)
    except InvalidInput as exc:
        raise InvalidInput(f"filter: {exc.message}", field="filter") from None
    _refuse(spec, "filter")
    return spec


def _refuse(spec: dict, path: str) -> None:
    for key, value in spec.items():
        if key in REFUSED:
            raise InvalidInput(
                f"{path}.{key}: sync filters take subject ids (user_id, agent_id, "
                "app_id, run_id), categories and metadata, not dates, state or "
                "keywords",
                field="filter",
            )
        if key in ("AND", "OR"):
            for index, part in enumerate(value):
                _refuse(part, f"{path}.{key}[{index}]")
        elif key == "NOT":
            for index, part in enumerate(value if isinstance(value, list) else [value]):
                _refuse(part, f"{path}.NOT[{index}]")


def filter_q(spec: dict) -> Q:
    """The filter as a ``Q`` over memories (all of them for no filter)."""
    return compile_filters(spec or None)


def filter_matches(spec: dict, values: dict) -> bool:
    """Whether ``values`` (the four subject ids, ``categories``, ``metadata``)
    pass the (checked) filter."""
    return not spec or _node(spec, values)


def _node(spec: dict, values: dict) -> bool:
    return all(_entry(key, value, values) for key, value in spec.items())


def _entry(key: str, value: Any, values: dict) -> bool:
    if key == "AND":
        return all(_node(part, values) for part in value)
    if key == "OR":
        return any(_node(part, values) for part in value)
    if key == "NOT":
        parts = value if isinstance(value, list) else [value]
        return not all(_node(part, values) for part in parts)
    if key in TEXT_FIELDS:
        return _conditions(value, lambda op, x: _text(values.get(key) or "", op, x))
    if key == "categories":
        held = list(values.get("categories") or ())
        return _conditions(value, lambda op, x: _categories(held, op, x))
    metadata = values.get("metadata") or {}
    if key == "metadata":
        if value == WILDCARD:
            return bool(metadata)
        return all(_metadata(metadata, name, cond) for name, cond in value.items())
    if key in LOGICAL:  # unreachable for a checked filter
        return False
    return _metadata(metadata, key, value)


def _conditions(value: Any, test) -> bool:
    if isinstance(value, dict):
        return all(test(op, operand) for op, operand in value.items())
    return test("*" if value == WILDCARD else "eq", value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _text(actual: str, op: str, operand: Any) -> bool:
    if op == "*":
        return actual != ""
    if op in ("in", "nin"):
        found = actual in [_str(item) for item in operand]
        return found if op == "in" else not found
    wanted = _str(operand)
    return {
        "eq": actual == wanted,
        "ne": actual != wanted,
        "contains": wanted in actual,
        "icontains": wanted.lower() in actual.lower(),
    }[op]


def _categories(actual: list[str], op: str, operand: Any) -> bool:
    if op == "*":
        return bool(actual)
    if op in ("in", "nin"):
        found = bool(set(actual) & {_str(item) for item in operand})
        return found if op == "in" else not found
    if op == "icontains":
        return _str(operand).lower() in "\x1f".join(actual).lower()
    items = operand if isinstance(operand, list) else [operand]
    wanted = [_str(item) for item in items]
    held = set(wanted) <= set(actual)
    return not held if op == "ne" else held


def _metadata(metadata: dict, key: str, condition: Any) -> bool:
    return _conditions(condition, lambda op, x: _metadata_op(metadata, key, op, x))


def _same(a: Any, b: Any) -> bool:
    """JSON equality (``1 == True`` is not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _metadata_op(metadata: dict, key: str, op: str, operand: Any) -> bool:
    if key not in metadata:
        return op in ("ne", "nin")
    value = metadata[key]
    if op == "*":
        return value is not None
    if op in ("eq", "ne"):
        return _same(value, operand) == (op == "eq")
    if op in ("in", "nin"):
        return any(_same(value, item) for item in operand) == (op == "in")
    if op in ("gt", "gte", "lt", "lte"):
        numeric = isinstance(operand, int | float) and not isinstance(operand, bool)
        if numeric != (isinstance(value, int | float) and not isinstance(value, bool)):
            return False
        if not numeric and not isinstance(value, str):
            return False
        return {
            "gt": value > operand,
            "gte": value >= operand,
            "lt": value < operand,
            "lte": value <= operand,
        }[op]
    if op == "icontains":
        return isinstance(value, str) and _str(operand).lower() in value.lower()
    # contains: a substring of a string, or an element of an array
    if isinstance(value, list):
        return any(_same(item, operand) for item in value)
    return isinstance(value, str) and isinstance(operand, str) and operand in value
