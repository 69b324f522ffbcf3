"""Reading mem0 requests into MemoryHub service arguments (no I/O).

mem0 clients send ids at the top level or inside ``filters``, messages as a
string, a dict or a list, dates as ``YYYY-MM-DD``; they read memory objects
with ``memory``/``hash``/``expiration_date`` and ``null`` for unset ids. All of
that is converted here, so the views only call services and render.
"""

import ast
import json
import uuid
from datetime import UTC, date, datetime
from datetime import time as dtime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from memories.validation import clean_messages
from memoryhub.errors import InvalidInput
from memoryhub.ids import uuid7, uuid7_time

ENTITY_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
ENTITY_TYPES = {
    "user": "user_id",
    "agent": "agent_id",
    "app": "app_id",
    "run": "run_id",
}
OUTPUT_V1_0 = "v1.0"
MAX_FILTER_PARAM_CHARS = 8192


# --- add ------------------------------------------------------------------------------


def message_contents(messages) -> list[str]:
    """The texts to store: one per non-system message, in order."""
    return [message["content"] for message in clean_messages(messages)]


def scope_ids(body: dict) -> dict:
    """user/agent/app/run ids of an add, from the top level or ``filters``."""
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be an object", field="filters")
    scope = {}
    for name in ENTITY_FIELDS:
        top, nested = body.get(name), filters.get(name)
        if top is not None and nested is not None and top != nested:
            raise InvalidInput(
                f"{name} differs between the body and filters; send it once",
                field=name,
            )
        value = top if top is not None else nested
        if value is not None:
            if not isinstance(value, str):
                raise InvalidInput(
                    f"{name} must be a string when adding memories", field=name
                )
            scope[name] = value
    return scope


def parse_expiration(value) -> datetime | None:
    """``expiration_date`` (``YYYY-MM-DD`` or ISO 8601) to an aware datetime.

    A bare date keeps the memory through that whole UTC day.
    """
    if value is None or value == "":
        return None
    moment = None
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            moment = parse_datetime(value)
        else:
            moment = datetime.combine(day, dtime.max, tzinfo=UTC)
    if moment is None:
        raise InvalidInput(
            "expiration_date must be a date (YYYY-MM-DD) or an ISO 8601 date-time",
            field="expiration_date",
        )
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment <= timezone.now():
        raise InvalidInput(
            "expiration_date must be in the future", field="expiration_date"
        )
    return moment


def add_options(body: dict) -> dict:
    """The memory fields of an ``infer`` add, and mem0's steering of the model
    (``custom_instructions``, ``includes``, ``excludes``, ``custom_categories``)."""
    steering = []
    for name, lead in (
        ("custom_instructions", ""),
        ("includes", "Keep in particular: "),
        ("excludes", "Never keep: "),
    ):
        value = body.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be text", field=name)
        steering.append(lead + value)
    options = {
        "metadata": body.get("metadata"),
        "categories": body.get("categories"),
        "expires_at": parse_expiration(body.get("expiration_date")),
        "immutable": body.get("immutable", False),
        "instructions": "\n".join(steering) or None,
    }
    if body.get("custom_categories") is not None:
        options["custom_categories"] = body["custom_categories"]
    return options


def add_items(body: dict) -> list[dict]:
    """The memory inputs (service ``data`` dicts) an add request describes."""
    contents = message_contents(body.get("messages"))
    common = {
        **scope_ids(body),
        "metadata": body.get("metadata"),
        "categories": body.get("categories"),
        "expires_at": parse_expiration(body.get("expiration_date")),
        "immutable": body.get("immutable", False),
    }
    return [{"content": content, **common} for content in contents]


# --- filters --------------------------------------------------------------------------


def read_filters(body, *, allow_top_level_ids: bool = True) -> dict | None:
    """The filter of a list/search/delete: ``filters`` plus the other shortcuts.

    Top-level ids (older clients), ``categories`` (any of), ``metadata``
    (equality per key) and ``start_date``/``end_date`` (on ``created_at``) are
    ANDed with ``filters``, which the filter language then checks.
    """
    parts = []
    filters = body.get("filters")
    if filters is not None:
        if not isinstance(filters, dict):
            raise InvalidInput("filters must be an object", field="filters")
        if filters:
            parts.append(filters)
    if allow_top_level_ids:
        for name in ENTITY_FIELDS:
            value = body.get(name)
            if value is not None:
                parts.append({name: value})
    categories = body.get("categories")
    if categories:
        if isinstance(categories, str):
            categories = [categories]
        parts.append({"categories": {"in": categories}})
    metadata = body.get("metadata")
    if metadata:
        parts.append({"metadata": metadata})
    dates = {
        op: body[key]
        for key, op in (("start_date", "gte"), ("end_date", "lte"))
        if body.get(key)
    }
    if dates:
        parts.append({"created_at": dates})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"AND": parts}


def filters_param(raw: str | None):
    """A ``filters`` query value: JSON, or the Python repr httpx sends for a dict."""
    if raw is None:
        return None
    if len(raw) > MAX_FILTER_PARAM_CHARS:
        raise InvalidInput("the filters parameter is too long", field="filters")
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        # mem0's client passes filters={...} to httpx as a query parameter,
        # which sends str(dict); literal_eval reads literals only, never code.
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise InvalidInput(
            "the filters parameter must be a JSON object", field="filters"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            "the filters parameter must be a JSON object", field="filters"
        )
    return value


def query_bool(params, name: str, default: bool = False) -> bool:
    """A boolean query or body value (``true``/``1``/``yes``)."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "yes")


def positive_int(value, name: str, *, default: int, maximum: int) -> int:
    """An integer from 1 to ``maximum`` from a query or body value."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer", field=name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not 1 <= number <= maximum:
        raise InvalidInput(f"{name} must be from 1 to {maximum}", field=name)
    return number


# --- event ids ------------------------------------------------------------------------


new_event_id = uuid7
event_time = uuid7_time


def parse_uuid(value: str) -> uuid.UUID | None:
    """``value`` as a UUID, or ``None`` (the caller answers 404)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
